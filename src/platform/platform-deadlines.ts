/**
 * Deadlines both platform clients put on their calls. In a module of their own, free of grpc-js,
 * so the raw client's shard workers do not load grpc-js and proto-loader (about 0.2 s of start-up
 * per worker, which a restarted scaler spends not serving).
 */

/** Deadline of `CreateSlot`/`DestroySlot` (the platform answers CreateSlot in ~100 ms). */
export const PLATFORM_CALL_DEADLINE_MS = 30_000;
/** `Init` blocks for the function's init time, which reaches minutes for AI models. */
export const PLATFORM_INIT_DEADLINE_MS = 15 * 60_000;
