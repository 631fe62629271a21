// The entry point of a `lat serve --workers N` worker process (forked by the cluster primary).
import { workerMain } from './serve.js';

await workerMain();
