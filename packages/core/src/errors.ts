/**
 * The one error type lat throws on bad input. `code` is stable for programs; `where` names the
 * file, field or argument at fault; the message says how to fix it.
 */
export class LatError extends Error {
  override readonly name = 'LatError';
  constructor(
    readonly code: LatErrorCode,
    message: string,
    readonly where?: string,
    options?: { cause?: unknown },
  ) {
    super(where ? `${where}: ${message}` : message, options);
  }
}

/** The stable error codes programs can switch on. */
export type LatErrorCode =
  | 'BAD_INPUT'
  | 'BAD_SHAPE'
  | 'BAD_FILE'
  | 'UNSAFE_PICKLE'
  | 'MISSING_TENSORS'
  | 'BAD_CONFIG'
  | 'BAD_LENGTHS'
  | 'BAD_FRONTIER'
  | 'BAD_BUDGET'
  | 'BAD_DATA'
  | 'NOT_FOUND'
  | 'NON_FINITE'
  | 'UNSUPPORTED'
  /** A file-system operation failed (disk full, no permission, a directory where a file belongs). */
  | 'IO_ERROR'
  /** Another run holds the output directory. */
  | 'LOCKED'
  /** `--resume` with other arguments or data than the checkpoint was made with. */
  | 'RUN_MISMATCH'
  /** Stopped by a signal; the checkpoint is saved and the output marked incomplete. */
  | 'INTERRUPTED';

/** Whether `e` is a LatError (with `code`, when given). */
export function isLatError(e: unknown, code?: LatErrorCode): e is LatError {
  return e instanceof LatError && (code === undefined || e.code === code);
}
