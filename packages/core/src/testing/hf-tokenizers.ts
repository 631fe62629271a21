// The reference tokenizer for tests: ids from @huggingface/tokenizers (a dev dependency).
import { Tokenizer } from '@huggingface/tokenizers';

/** Ids (with special tokens, and token types for pairs) from @huggingface/tokenizers, for any tokenizer.json. */
export function encodeWithHfTokenizer(
  raw: unknown,
  config: Record<string, unknown>,
  text: string,
  pair?: string,
) {
  const t = new Tokenizer(raw as object, config);
  const e = t.encode(text, {
    ...(pair !== undefined ? { text_pair: pair } : {}),
    return_token_type_ids: true,
  });
  return { ids: e.ids, tokens: e.tokens, attentionMask: e.attention_mask, typeIds: e.token_type_ids };
}
