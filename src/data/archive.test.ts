// Tests for the gunzip + tar reader on small archives built here.
import { describe, expect, it } from 'vitest';
import { baseName, gunzip, isGzip, readTar } from './archive.ts';
import { CifarDataError } from './errors.ts';
import { gzipBytes, makeTar, paxRecord, sameBytes } from './test-utils.ts';

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

async function expectCode(p: Promise<unknown> | (() => unknown), code: string, match?: RegExp): Promise<CifarDataError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CifarDataError);
  const e = err as CifarDataError;
  expect(e.code).toBe(code);
  if (match) expect(e.message).toMatch(match);
  return e;
}

describe('readTar', () => {
  it('lists regular files with their contents, skipping directories', () => {
    const big = new Uint8Array(1300).map((_, i) => i & 255); // spans three blocks
    const tar = makeTar([
      { name: 'cifar-10-batches-bin/', type: '5' },
      { name: 'cifar-10-batches-bin/a.txt', bytes: text('hello') },
      { name: 'cifar-10-batches-bin/big.bin', bytes: big },
      { name: 'empty.txt', bytes: new Uint8Array(0) },
    ]);
    const files = readTar(tar, 'test.tar');
    expect(files.map((f) => f.name)).toEqual(['cifar-10-batches-bin/a.txt', 'cifar-10-batches-bin/big.bin', 'empty.txt']);
    expect(decode(files[0]!.bytes)).toBe('hello');
    expect(files[1]!.bytes).toEqual(big);
    expect(files[2]!.bytes.length).toBe(0);
  });

  it('joins the ustar prefix and honours GNU long names and pax paths', () => {
    const long = `${'d'.repeat(120)}/file.bin`;
    const tar = makeTar([
      { name: 'name.txt', prefix: 'some/prefix', bytes: text('1') },
      { name: '././@LongLink', type: 'L', bytes: text(`${long}\0`) },
      { name: 'truncated-name', bytes: text('2') },
      { name: 'PaxHeader', type: 'x', bytes: paxRecord('path', 'pax/very/long/path.bin') },
      { name: 'short', bytes: text('3') },
      { name: 'after', bytes: text('4') },
    ]);
    const files = readTar(tar, 't.tar');
    expect(files.map((f) => f.name)).toEqual(['some/prefix/name.txt', long, 'pax/very/long/path.bin', 'after']);
    expect(files.map((f) => decode(f.bytes))).toEqual(['1', '2', '3', '4']);
  });

  it('says "not a tar" for other data, and "truncated" when an entry runs past the end', async () => {
    await expectCode(() => readTar(new Uint8Array(2048).fill(7), 'x.tar.gz'), 'not-tar', /x\.tar\.gz does not contain a tar archive/);
    await expectCode(() => readTar(new Uint8Array(1024), 'zeros.tar'), 'not-tar');
    const tar = makeTar([{ name: 'f', bytes: new Uint8Array(5000) }]);
    await expectCode(() => readTar(tar.subarray(0, 3000), 'cut.tar'), 'truncated', /needs 5512 bytes, the archive has 3000/);
  });

  it('flags a damaged header after the first', async () => {
    const tar = makeTar([
      { name: 'a', bytes: text('x') },
      { name: 'b', bytes: text('y') },
    ]);
    tar[1024 + 3] ^= 0xff; // inside the second header's name
    await expectCode(() => readTar(tar, 'bad.tar'), 'corrupt', /damaged tar header at byte 1024/);
  });
});

describe('gunzip', () => {
  it('round-trips through CompressionStream and reports progress up to 1', async () => {
    const data = new Uint8Array(3_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const gz = await gzipBytes(data);
    expect(isGzip(gz)).toBe(true);
    const seen: number[] = [];
    const out = await gunzip(gz, 'x.gz', (f) => seen.push(f));
    expect(sameBytes(out, data)).toBe(true);
    expect(seen.at(-1)).toBe(1);
    expect(seen.every((f, i) => i === 0 || f >= seen[i - 1]!)).toBe(true);
  });

  it('names the file and says what is wrong: empty, not gzip, truncated', async () => {
    await expectCode(gunzip(new Uint8Array(0), 'cifar-10-binary.tar.gz'), 'empty', /cifar-10-binary\.tar\.gz is empty/);
    const notGz = await expectCode(gunzip(text('<html>not found</html>'), 'cifar-10-binary.tar.gz'), 'not-gzip', /not a gzip file/);
    expect(notGz.fileName).toBe('cifar-10-binary.tar.gz');
    expect(notGz.message).toMatch(/download it again/i);
    const gz = await gzipBytes(new Uint8Array(100_000).map((_, i) => (i * 13) & 255));
    await expectCode(
      gunzip(gz.subarray(0, gz.length >> 1), 'half.tar.gz'),
      'corrupt',
      /half\.tar\.gz could not be decompressed: it is truncated or damaged/,
    );
  });
});

describe('baseName', () => {
  it('keeps the last path component', () => {
    expect(baseName('cifar-10-batches-bin/data_batch_1.bin')).toBe('data_batch_1.bin');
    expect(baseName('C:\\x\\test_batch.bin')).toBe('test_batch.bin');
    expect(baseName('plain')).toBe('plain');
  });
});
