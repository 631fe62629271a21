export * from './length-drop.js';
