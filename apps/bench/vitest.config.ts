import { latProject } from '@lat/vitest-config';
import { defineProject } from 'vitest/config';

export default defineProject(latProject(import.meta.dirname));
