import { formatMacs } from './format.js';

const app = document.getElementById('app');
if (app) app.dataset['ready'] = formatMacs(0);
