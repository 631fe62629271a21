/** Errors of @lat/search; same shape as @lat/core's LatError (a stable `code`, the place at fault). */
export class SearchError extends Error {
  override readonly name = 'LatError';
  constructor(
    readonly code: 'BAD_FRONTIER' | 'BAD_CONFIG' | 'BAD_BUDGET',
    message: string,
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
  }
}
