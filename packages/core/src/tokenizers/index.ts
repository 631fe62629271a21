export * from './wordpiece.js';
