/**
 * The contest platform's fixed behaviour, one definition shared by the live platform, the virtual
 * platform and the clairvoyant bound. (Its address, which the scaler needs too, is
 * `DEFAULT_PLATFORM_ADDRESS` in src/config.ts.)
 */

/** Observed latency of the official `CreateSlot`, ms. */
export const DEFAULT_CREATE_LATENCY_MS = 100;
