/** The OpenAPI 3.1 document served at /openapi.json. */
import type { ServeOptions } from './options.js';

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', examples: ['MALFORMED_JSON', 'TOO_MANY_INPUTS', 'QUEUE_FULL'] },
        message: { type: 'string' },
        field: { type: 'string', description: 'The request field at fault' },
      },
    },
  },
};

const budget = {
  oneOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 1 }, { type: 'string' }],
  description:
    "Run at the best frontier point within this budget instead of letting the controller choose: a cost fraction (0.5, '50%'), a latency ('10ms', needs `lat bench --save`) or a metric floor ('acc>=0.9').",
};

const deadlineMs = {
  type: 'number',
  exclusiveMinimum: 0,
  maximum: 600000,
  description:
    'This request’s own latency target in ms (the controller aims for the tighter of it and the SLO); a request still queued past it gets 504.',
};

const configuration = {
  type: 'object',
  description: 'The configuration the batch ran at',
  properties: {
    name: { type: 'string', examples: ['full', 'frontier[2]', 'uniform-0.70'] },
    source: {
      type: 'string',
      enum: ['controller', 'controller-uniform-fallback', 'budget', 'full-only', 'adapler-per-input'],
    },
    costRatio: { type: 'number', description: 'MACs relative to the full model' },
    metric: { type: ['number', 'null'], description: "The frontier's dev metric for this point" },
    lengthForm: { type: ['string', 'null'], enum: ['ratio', 'absolute', null] },
    lengths: { type: ['array', 'null'], items: { type: 'number' } },
  },
};

const cost = {
  configuration,
  macs: { type: 'number', description: 'Multiply-accumulates spent on this request' },
  fullMacs: { type: 'number', description: 'What the full model would have spent' },
  timing: {
    type: 'object',
    properties: {
      queueMs: { type: 'number' },
      inferenceMs: { type: 'number', description: "The batch's model time" },
      totalMs: { type: 'number' },
      batchInputs: { type: 'integer' },
    },
  },
};

/** A JSON request body of `properties` (with `required`), and a 200 response of `properties`. */
const jsonBody = (required: string[], properties: object) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const jsonOk = (description: string, properties: object) => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});

export function openApiDocument(o: ServeOptions) {
  const errors = (codes: number[]) =>
    Object.fromEntries(
      codes.map((c) => [
        String(c),
        {
          description: statusText[c],
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      ]),
    );
  return {
    openapi: '3.1.0',
    info: {
      title: 'lat serve',
      version: '0.0.0',
      description: `A length-adaptive model behind an SLO controller: under load, batches run at cheaper frontier points so p99 latency stays under ${o.sloP99Ms} ms.`,
    },
    paths: {
      '/v1/classify': {
        post: {
          summary: 'Classify texts (classification models)',
          requestBody: jsonBody(['inputs'], {
            inputs: {
              type: 'array',
              minItems: 1,
              maxItems: o.limits.inputs,
              items: {
                oneOf: [
                  { type: 'string', maxLength: o.limits.textChars },
                  {
                    type: 'object',
                    required: ['text'],
                    properties: { text: { type: 'string' }, textPair: { type: 'string' } },
                  },
                ],
              },
            },
            budget,
            deadlineMs,
          }),
          responses: {
            '200': jsonOk('One result per input, in order', {
              model: { type: 'string' },
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    label: { type: 'string' },
                    score: { type: 'number' },
                    probabilities: { type: 'array', items: { type: 'number' } },
                    tokens: { type: 'integer' },
                    kept: { type: 'array', items: { type: 'integer' }, description: 'Tokens kept per layer' },
                    macs: { type: 'number' },
                    fullMacs: { type: 'number' },
                  },
                },
              },
              ...cost,
            }),
            ...errors([400, 404, 408, 413, 415, 429, 503, 504]),
          },
        },
      },
      '/v1/answer': {
        post: {
          summary: 'Answer a question from a context (question-answering models)',
          requestBody: jsonBody(['question', 'context'], {
            question: { type: 'string', maxLength: o.limits.textChars },
            context: { type: 'string', maxLength: o.limits.contextChars },
            budget,
            deadlineMs,
          }),
          responses: {
            '200': jsonOk('The best span over all windows of the context', {
              model: { type: 'string' },
              answer: { type: 'string' },
              score: { type: 'number' },
              start: { type: 'integer', description: 'Character offset of the answer in the context' },
              end: { type: 'integer' },
              windows: { type: 'integer' },
              kept: { type: 'array', items: { type: 'integer' } },
              ...cost,
            }),
            ...errors([400, 404, 408, 413, 415, 429, 503, 504]),
          },
        },
      },
      '/healthz': { get: { summary: 'The process is up', responses: { '200': { description: 'ok' } } } },
      '/readyz': {
        get: {
          summary: 'Ready for requests: the model, its configurations and the latency table',
          responses: {
            '200': { description: 'ready' },
            '503': { description: 'shutting down, or the inference thread is restarting (or failed to)' },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (added up over the workers)',
          responses: { '200': { description: 'text/plain; version=0.0.4' } },
        },
      },
    },
    components: { schemas: { Error: error } },
  };
}

const statusText: Record<number, string> = {
  400: 'Bad request: malformed JSON, a missing or wrong field, too many inputs, a text too long, a budget the frontier cannot meet',
  404: 'Wrong endpoint for this model’s task',
  408: 'The request did not arrive in time (slow client)',
  413: 'The body is larger than the limit',
  415: 'Not application/json',
  429: 'The queue is full; retry after the Retry-After header',
  503: 'Shutting down, or the inference thread crashed (INFERENCE_CRASHED: retry) or could not be restarted (INFERENCE_UNAVAILABLE)',
  504: 'The request’s deadlineMs passed while it was queued',
};
