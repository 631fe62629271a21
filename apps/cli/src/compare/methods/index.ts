/**
 * The methods `lat compare` knows, by command-line name. A new method is one file in this folder
 * (see ../method.ts for the contract) and one line here.
 */
import type { CompareMethod } from '../method.js';
import { adaplerMethod } from './adapler.js';
import { axformerMethod } from './axformer.js';
import { axformerLatMethod } from './axformer-lat.js';
import { latMethod } from './lat.js';
import { plainMethod } from './plain.js';
import { poolingMethod } from './pooling.js';

export const compareMethods: readonly CompareMethod[] = [
  plainMethod,
  latMethod,
  adaplerMethod,
  axformerMethod,
  axformerLatMethod,
  poolingMethod,
];
