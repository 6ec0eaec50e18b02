/** The fields validation reads: grpc-js' decoded messages and the raw server's alike. */
export interface AssignRequestShape {
  readonly requestId: string;
  readonly metaData: { readonly key: string; readonly runtime: string; readonly timeoutInSecs: number; readonly memoryInMb: number } | null;
}
export interface IdleRequestShape {
  readonly assigment: { readonly requestId: string; readonly metaKey: string; readonly instanceId: string } | null;
  readonly result: { readonly needDestroy?: boolean; readonly durationInMs: number } | null;
}

/** Above this an Assign's memory is not a function but a typo (1 TiB). */
export const MAX_MEMORY_MB = 1_048_576;
export const MAX_KEY_LENGTH = 1_024;
export const MAX_REQUEST_ID_LENGTH = 1_024;

/** `null` when valid, else what is wrong, for an `InvalidArgument` answer. */
export function validateAssign(req: AssignRequestShape): string | null {
  if (req.requestId === '') return 'request_id is empty';
  if (req.requestId.length > MAX_REQUEST_ID_LENGTH) return `request_id is longer than ${MAX_REQUEST_ID_LENGTH} characters`;
  const meta = req.metaData;
  if (meta === null || meta === undefined) return 'meta_data is missing';
  if (meta.key === '') return 'meta_data.key is empty';
  if (meta.key.length > MAX_KEY_LENGTH) return `meta_data.key is longer than ${MAX_KEY_LENGTH} characters`;
  if (!(meta.memoryInMb > 0)) return 'meta_data.memory_in_mb must be greater than 0';
  if (meta.memoryInMb > MAX_MEMORY_MB) return `meta_data.memory_in_mb ${meta.memoryInMb} exceeds ${MAX_MEMORY_MB}`;
  return null;
}

export function validateIdle(req: IdleRequestShape): string | null {
  const a = req.assigment;
  if (a === null || a === undefined) return 'assigment is missing';
  if (a.instanceId === '') return 'assigment.instance_id is empty';
  if (a.metaKey === '') return 'assigment.meta_key is empty';
  if (a.requestId.length > MAX_REQUEST_ID_LENGTH) return `assigment.request_id is longer than ${MAX_REQUEST_ID_LENGTH} characters`;
  return null;
}
