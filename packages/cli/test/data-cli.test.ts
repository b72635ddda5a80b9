import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerDataCommands } from '../src/cli/data-command.js';
import { DatasetError } from '../src/data/index.js';
import { makeCifarBinary, makeCifarFolder, makeTar } from './data-fixtures/fixtures.js';
import { dataDir, useTempWorkspace, work } from './data-fixtures/workspace.js';

useTempWorkspace();

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs `trit <args>` with the data commands; returns stdout/stderr text. */
async function trit(...args: string[]): Promise<{ out: string; err: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const program = new Command('trit').exitOverride();
  program.configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) });
  registerDataCommands(program, { stdout, stderr });
  for (const c of program.commands) c.exitOverride();
  await program.parseAsync(['node', 'trit', ...args]);
  return { out: stdout.text, err: stderr.text };
}

describe('trit data', () => {
  it('import prints a summary and progress lines (no TTY), list shows the entry', async () => {
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 2, test: 1 } });
    const archive = await makeTar(join(work, 'cifar10-jpeg.tar.gz'), join(work, 'src'), [
      'cifar10-jpeg',
    ]);
    const { out, err } = await trit(
      'data',
      'import',
      'cifar10',
      '--from',
      archive,
      '--data-dir',
      dataDir,
      '--per-class',
      'train=2,test=1',
      '--allow-non-standard-count',
    );
    expect(out).toContain(`imported cifar10 from ${archive} (cifar10-folder)`);
    expect(out).toContain('train: 20 images, test: 10 images, 32x32x3, 10 classes');
    // The non-standard count imported on purpose is said, class by class.
    expect(out).toContain(
      '  NON-STANDARD COUNT (imported on purpose, --allow-non-standard-count): this is not the official cifar10:\n' +
        '    class 0 "airplane" has 2 train images, the official release 5,000\n',
    );
    expect(out).toContain('    ... (10 more, listed in the meta files)');
    expect(out).toMatch(/30 images in [\d.]+ s \([\d,]+ img\/s\) -> .*cache\/cifar10/);
    expect(err).toMatch(/read archive: .* in [\d.]+ s/);
    expect(err).toMatch(/decode train: 20 in [\d.]+ s \([\d,]+ img\/s\)/);

    const list = await trit('data', 'list', '--data-dir', dataDir);
    expect(list.out).toContain(`dataset cache: ${dataDir}`);
    expect(list.out).toMatch(
      /cifar10\s+train\s+20\s+10\s+32x32x3\s+0\s+60\.02 KiB\s+cifar10-jpeg\.tar\.gz/,
    );
    expect(list.out).toMatch(/cifar10\s+test\s+10\s+10\s+32x32x3/);
    expect(list.out).toContain('not imported:');
    expect(list.out).toContain(
      `cifar10-sample: trit data import cifar10-sample --data-dir ${dataDir}`,
    );
    expect(list.out).not.toMatch(/^ {2}cifar10: /m);

    const json = JSON.parse(
      (await trit('data', 'list', '--data-dir', dataDir, '--json', '--verify')).out,
    );
    expect(json.dataDir).toBe(dataDir);
    expect(json.datasets[0]).toMatchObject({
      entry: 'cifar10',
      dataset: 'cifar10',
      splits: {
        train: { count: 20, classes: 10, verified: 'ok' },
        test: { count: 10, verified: 'ok' },
      },
    });
  });

  it('import without --allow-non-standard-count refuses a source with other counts, and says how', async () => {
    await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await expect(
      trit('data', 'import', 'cifar10', '--from', work, '--data-dir', dataDir),
    ).rejects.toThrow(/is not a complete cifar10 .*--allow-non-standard-count/s);
  });

  it('import options reach the importer (classes, skip, save-as, resize)', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 2, test: 1 } });
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(join(base, 'train', 'bird', '1.png'), 'garbage'),
    );
    const { out } = await trit(
      'data',
      'import',
      'cifar10',
      '--from',
      work,
      '--data-dir',
      dataDir,
      '--classes',
      '3',
      '--on-bad-image',
      'skip',
      '--save-as',
      'c3',
      '--resize',
      '16x16',
      '--fit',
      'fill',
      '--allow-non-standard-count',
    );
    expect(out).toContain('imported cifar10 as c3');
    expect(out).toContain('train: 5 images, test: 3 images, 16x16x3, 3 classes');
    expect(out).toContain('skipped 1 undecodable image:');
    expect(out).toContain(join(base, 'train', 'bird', '1.png'));
  });

  it('bad arguments are rejected before any work', async () => {
    await expect(
      trit('data', 'import', 'cifar10', '--from', work, '--classes', 'zero'),
    ).rejects.toThrow(/must be a positive integer/);
    await expect(
      trit('data', 'import', 'cifar10', '--from', work, '--on-bad-image', 'maybe'),
    ).rejects.toThrow(/Allowed choices are error, skip/);
    await expect(
      trit('data', 'import', 'cifar10', '--from', work, '--per-class', 'train:3'),
    ).rejects.toThrow(/use N or train=N,test=M/);
    await expect(
      trit('data', 'import', 'cifar10', '--from', work, '--resize', '32'),
    ).rejects.toThrow(/WIDTHxHEIGHT/);
    await expect(
      trit('data', 'import', 'cifar10', '--from', work, '--fit', 'fill', '--data-dir', dataDir),
    ).rejects.toThrow(/--fit needs --resize/);
    const e = await trit('data', 'import', 'svhn', '--from', work, '--data-dir', dataDir).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as Error).message).toMatch(/known datasets: cifar10, cifar10-sample/);
  });

  it('download --url/--sha256 fetches from a mirror and imports', async () => {
    await makeCifarBinary(join(work, 'src'), 10);
    const archive = await makeTar(join(work, 'cifar-10-binary.tar.gz'), join(work, 'src'), [
      'cifar-10-batches-bin',
    ]);
    const body = await readFile(archive);
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/cifar-10-binary.tar.gz`;
      const sha = createHash('sha256').update(body).digest('hex');
      const { out, err } = await trit(
        'data',
        'download',
        'cifar10',
        '--url',
        url,
        '--sha256',
        sha,
        '--data-dir',
        dataDir,
        '--allow-non-standard-count',
      );
      expect(out).toContain(`downloaded ${url}`);
      expect(out).toContain(`sha256 ${sha} (verified)`);
      expect(out).toContain('train: 50 images, test: 10 images');
      expect(err).toMatch(/download: .* in [\d.]+ s/);
      await expect(
        trit('data', 'download', 'cifar10', '--url', url, '--data-dir', dataDir),
      ).rejects.toThrow(/--url and --sha256 go together/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
