/** The package version, reported to the pipeline as the SDK that produced each record. */
export const VERSION = '0.1.0';
