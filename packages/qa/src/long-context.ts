/**
 * Long-context SQuAD (issue 21, REFERENCE.md §4's long-input tasks): every paragraph of a SQuAD
 * file is hidden among distractor paragraphs drawn from *other* articles, so a question's context
 * becomes a document of a chosen length (e.g. 1–4k tokens) in which one paragraph holds the answer.
 *
 * Per source paragraph, in file order, from one seeded generator:
 * 1. a target length T, uniform over the whole numbers in [minLength, maxLength];
 * 2. distractors: paragraphs of other articles in a fresh random order, each added when it still
 *    fits (the running length never exceeds T); a paragraph alone longer than T stays alone;
 * 3. the source paragraph goes into a uniformly drawn slot among the distractors;
 * 4. the parts are joined with a blank line, and every answer's `answer_start` moves by the length
 *    of the text before the source paragraph — so `context.slice(start, start + text.length)` is
 *    the same string it was in the source.
 * Length is measured by `length` (a tokenizer's token count; whitespace words by default) on each
 * paragraph alone, so a document's token count is T plus the separators' (none for WordPiece).
 * All questions of a paragraph share its document. The output is SQuAD JSON (v1.1 layout, the
 * articles in source order) with a `lat_long_context` record of how it was made.
 */
import { LatError, Rng } from '@lat/core';

export interface LongContextOptions {
  seed: number;
  /** Each document's length is drawn from [minLength, maxLength] (in `length`'s units). */
  minLength: number;
  maxLength: number;
  /** A paragraph's length: tokens of the model's tokenizer, or (default) whitespace-separated words. */
  length?: (text: string) => number;
  /** Only the first `limit` paragraphs of the source get documents (distractors still come from all). */
  limit?: number;
  /** What `length` counts, recorded in the output (default: words). */
  unit?: string;
}

/** How a long-context file was made (its `lat_long_context` field). */
export interface LongContextRecord {
  source: string;
  seed: number;
  minLength: number;
  maxLength: number;
  unit: string;
  paragraphs: number;
  questions: number;
  /** Mean document length, and how many source paragraphs alone exceeded maxLength. */
  meanLength: number;
  overLong: number;
}

interface SourceParagraph {
  article: number;
  title: string;
  context: string;
  qas: Record<string, unknown>[];
}

export const longContextSeparator = '\n\n';

/** Builds long-context SQuAD JSON from parsed SQuAD JSON read from `where`. */
export function longContextSquad(
  json: unknown,
  o: LongContextOptions,
  where = 'dataset.json',
): {
  data: { title: string; paragraphs: unknown[] }[];
  version: string;
  lat_long_context: LongContextRecord;
} {
  const { minLength, maxLength, seed } = o;
  checkLengths(minLength, maxLength);
  const length = o.length ?? wordCount;
  const source = readParagraphs(json, where);
  if (new Set(source.map((p) => p.article)).size < 2)
    throw new LatError(
      'BAD_DATA',
      'distractors come from other articles: the file needs at least two',
      where,
    );
  const sizes = source.map((p) => length(p.context));
  const rng = new Rng(seed);
  const used = source.slice(0, o.limit ?? source.length);
  const articles = new Map<number, { title: string; paragraphs: unknown[] }>();
  let total = 0;
  let overLong = 0;
  let questions = 0;
  used.forEach((p, index) => {
    const target = minLength + rng.int(maxLength - minLength + 1);
    const parts: number[] = [];
    let filled = sizes[index]!;
    if (filled > target) overLong++;
    for (const j of rng.permutation(source.length)) {
      if (filled >= target) break;
      if (source[j]!.article === p.article || filled + sizes[j]! > target) continue;
      parts.push(j);
      filled += sizes[j]!;
    }
    const slot = rng.int(parts.length + 1);
    const before = parts.slice(0, slot).map((j) => source[j]!.context);
    const after = parts.slice(slot).map((j) => source[j]!.context);
    const shift = before.reduce((n, t) => n + t.length + longContextSeparator.length, 0);
    const context = [...before, p.context, ...after].join(longContextSeparator);
    const qas = p.qas.map((q) => ({
      ...q,
      answers: ((q['answers'] ?? []) as Record<string, unknown>[]).map((a) => ({
        ...a,
        answer_start: Number(a['answer_start']) + shift,
      })),
    }));
    const article = articles.get(p.article) ?? { title: p.title, paragraphs: [] };
    article.paragraphs.push({ context, qas });
    articles.set(p.article, article);
    total += filled;
    questions += qas.length;
  });
  return {
    version: '1.1',
    data: [...articles.values()],
    lat_long_context: {
      source: where,
      seed,
      minLength,
      maxLength,
      unit: o.unit ?? 'words',
      paragraphs: used.length,
      questions,
      meanLength: used.length ? total / used.length : 0,
      overLong,
    },
  };
}

const wordCount = (t: string) => t.split(/\s+/).filter(Boolean).length;

function checkLengths(minLength: number, maxLength: number) {
  if (!Number.isInteger(minLength) || !Number.isInteger(maxLength) || minLength < 1 || maxLength < minLength)
    throw new LatError(
      'BAD_INPUT',
      `document lengths must be whole numbers with 1 ≤ min ≤ max, got ${minLength}..${maxLength}`,
      'length',
    );
}

/** The paragraphs of SQuAD JSON with their article; errors name the JSON path. */
function readParagraphs(json: unknown, where: string): SourceParagraph[] {
  const fail = (path: string, msg: string): never => {
    throw new LatError('BAD_DATA', `${msg} (expected the SQuAD format)`, `${where}#${path}`);
  };
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return fail('data', 'missing the data array');
  return data.flatMap((article: Record<string, unknown>, a) => {
    const paragraphs = article?.['paragraphs'];
    if (!Array.isArray(paragraphs)) return fail(`data[${a}].paragraphs`, 'missing');
    return paragraphs.map((p: Record<string, unknown>, pi) => {
      if (typeof p?.['context'] !== 'string')
        fail(`data[${a}].paragraphs[${pi}].context`, 'must be a string');
      if (!Array.isArray(p['qas'])) fail(`data[${a}].paragraphs[${pi}].qas`, 'missing');
      return {
        article: a,
        title: String(article['title'] ?? ''),
        context: p['context'] as string,
        qas: p['qas'] as Record<string, unknown>[],
      };
    });
  });
}

/** Facts per relation: the question names the relation and a person; the answer is the value. */
const factRelations: readonly { relation: string; values: readonly string[] }[] = [
  {
    relation: 'favourite colour',
    values: [
      'red',
      'blue',
      'green',
      'yellow',
      'purple',
      'orange',
      'black',
      'white',
      'pink',
      'brown',
      'grey',
      'silver',
    ],
  },
  {
    relation: 'home city',
    values: [
      'paris',
      'london',
      'berlin',
      'madrid',
      'rome',
      'tokyo',
      'cairo',
      'lima',
      'oslo',
      'vienna',
      'dublin',
      'boston',
    ],
  },
  {
    relation: 'pet',
    values: [
      'tiger',
      'horse',
      'eagle',
      'wolf',
      'rabbit',
      'shark',
      'camel',
      'otter',
      'falcon',
      'zebra',
      'bear',
      'mouse',
    ],
  },
];
const factNames: readonly string[] = (
  'alice bob carol david emma frank grace henry irene jack karen louis maria nathan olivia peter ' +
  'rachel simon tina victor wendy xavier yvonne zachary'
).split(' ');

export interface FactQaOptions extends Omit<LongContextOptions, 'limit'> {
  /** How many documents (one question each). */
  documents: number;
  /** Facts per document (default 4): one is asked, the others name other people. */
  facts?: number;
}

/** How a generated fact-retrieval file was made (its `lat_long_facts` field). */
export interface FactQaRecord extends Omit<LongContextRecord, 'paragraphs' | 'overLong'> {
  documents: number;
  facts: number;
}

/**
 * Long-context fact retrieval, a generated span-QA task a small model learns in minutes
 * (issue 21: there is no QA-pretrained checkpoint here). Each document is real text — sentences
 * of the source SQuAD file's contexts, in a random order — with `facts` sentences
 * "The {relation} of {Name} is {value}." at random sentence boundaries, every fact about another
 * person; the question "What is the {relation} of {Name}?" asks one of them, so the answer depends
 * on the question and may lie anywhere in the document. Per document, from one seeded generator:
 * a target length T uniform in [minLength, maxLength]; the facts; sentences of a fresh random
 * order, each added when it still fits (running length ≤ T, measured by `length` per sentence);
 * the facts inserted at distinct random slots. Sentences are joined by one space and the answer's
 * `answer_start` is its exact character offset. Output: SQuAD v1.1 JSON, one article per document.
 */
export function factQaSquad(
  json: unknown,
  o: FactQaOptions,
  where = 'dataset.json',
): {
  data: { title: string; paragraphs: unknown[] }[];
  version: string;
  lat_long_facts: FactQaRecord;
} {
  const { minLength, maxLength, seed, documents } = o;
  const facts = o.facts ?? 4;
  checkLengths(minLength, maxLength);
  if (!Number.isInteger(documents) || documents < 1)
    throw new LatError('BAD_INPUT', `documents must be a whole number ≥ 1, got ${documents}`, 'documents');
  if (!Number.isInteger(facts) || facts < 1 || facts > factNames.length)
    throw new LatError('BAD_INPUT', `facts must be 1..${factNames.length}, got ${facts}`, 'facts');
  const length = o.length ?? wordCount;
  const sentences = readParagraphs(json, where).flatMap((p) =>
    p.context.split(/(?<=[.!?])\s+/).filter((s) => s.trim()),
  );
  if (sentences.length === 0) throw new LatError('BAD_DATA', 'the file has no context sentences', where);
  const sizes = sentences.map(length);
  const rng = new Rng(seed);
  let total = 0;
  const data = Array.from({ length: documents }, (_, d) => {
    const target = minLength + rng.int(maxLength - minLength + 1);
    const people = rng.permutation(factNames.length).slice(0, facts);
    const told = people.map((n) => {
      const { relation, values } = factRelations[rng.int(factRelations.length)]!;
      const name = factNames[n]!.replace(/^./, (c) => c.toUpperCase());
      const value = values[rng.int(values.length)]!;
      const prefix = `The ${relation} of ${name} is `;
      return { relation, name, value, prefix, sentence: `${prefix}${value}.` };
    });
    const asked = rng.int(facts);
    let filled = told.reduce((n, f) => n + length(f.sentence), 0);
    const text: string[] = [];
    for (const j of rng.permutation(sentences.length)) {
      if (filled >= target) break;
      if (filled + sizes[j]! > target) continue;
      text.push(sentences[j]!);
      filled += sizes[j]!;
    }
    for (const f of told) text.splice(rng.int(text.length + 1), 0, f.sentence);
    const f = told[asked]!;
    const before = text.slice(0, text.indexOf(f.sentence));
    const answerStart = before.reduce((n, t) => n + t.length + 1, 0) + f.prefix.length;
    const context = text.join(' ');
    total += filled;
    return {
      title: `facts ${d + 1}`,
      paragraphs: [
        {
          context,
          qas: [
            {
              id: `facts-${seed}-${d + 1}`,
              question: `What is the ${f.relation} of ${f.name}?`,
              answers: [{ text: f.value, answer_start: answerStart }],
            },
          ],
        },
      ],
    };
  });
  return {
    version: '1.1',
    data,
    lat_long_facts: {
      source: where,
      seed,
      minLength,
      maxLength,
      unit: o.unit ?? 'words',
      documents,
      facts,
      questions: documents,
      meanLength: total / documents,
    },
  };
}
