/**
 * Records of the contest's trace format (a dataset is a folder with `metas` and `requests`,
 * both JSON lines). Field names are the contest's.
 */
export interface MetaRecord {
  readonly key: string;
  readonly runtime: string;
  readonly memoryInMb: number;
  readonly timeoutInSecs: number;
  readonly initDurationInMs: number;
}

export interface RequestRecord {
  /** ms epoch */
  readonly startTime: number;
  readonly metaKey: string;
  readonly durationsInMs: number;
  readonly statusCode: number;
}
