// The one error class of the data layer. Its message says which file, what is wrong with it and
// what to do; `code` lets callers (the UI, the CLI) react without parsing text.

export type CifarErrorCode =
  | 'empty' // a file with no bytes
  | 'not-gzip' // an "archive" that is not gzip-compressed
  | 'not-tar' // gzip that does not hold a tar archive
  | 'corrupt' // damaged compressed data or tar header
  | 'truncated' // fewer bytes than the format needs
  | 'wrong-size' // a size that is not what the format allows (too long, not whole records)
  | 'checksum' // MD5 differs from the official file's
  | 'bad-label' // a label byte outside 0..9
  | 'missing-file'; // a required file is not among those given

export class CifarDataError extends Error {
  override readonly name = 'CifarDataError';
  readonly code: CifarErrorCode;
  /** The file the problem is in (or the archive / directory for a missing file). */
  readonly fileName: string;
  /** What to do about it, also the last sentence of the message. */
  readonly remedy: string;

  constructor(code: CifarErrorCode, fileName: string, problem: string, remedy: string) {
    super(`${problem} ${remedy}`);
    this.code = code;
    this.fileName = fileName;
    this.remedy = remedy;
  }
}

/** The usual remedy for a damaged CIFAR-10 binary file, in Node and in the browser. */
export const REFETCH_REMEDY = 'Run `npm run data` again (Node), or download cifar-10-binary.tar.gz again and choose it (browser).';
