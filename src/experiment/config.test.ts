// The share-URL form of a configuration: round trips, profile defaults, and every kind of bad value.

import { describe, expect, it } from 'vitest';
import {
  applyProtocol,
  changedFromProtocol,
  CONFIG_KEYS,
  ConfigError,
  DEFAULT_CONFIG,
  formatConfigQuery,
  parseConfigQuery,
  parseConfigQueryStrict,
  protocolDefaults,
} from './config.ts';
import { describeExperiment } from '../train/experiment.ts';

describe('share-URL query', () => {
  it('round-trips every key', () => {
    const c = {
      ...protocolDefaults('neon'),
      depth: 110,
      block: 'norelu-bnafter' as const,
      solver: 'rmsprop' as const,
      lr: 0.001,
      rho: 0.95,
      wd: 0,
      bnm: 'dynamic' as const,
      epochs: 3,
      batch: 64,
      seed: 4242,
      schedule: { kind: 'steps' as const, steps: [{ epoch: 2, lr: 0.01 }] },
      warmup: 'fancy' as const,
    };
    const q = formatConfigQuery(c);
    for (const k of CONFIG_KEYS) expect(q).toContain(`${k}=`);
    const back = parseConfigQuery(q);
    expect(back.issues).toEqual([]);
    expect(back.config).toEqual(c);
    expect(back.given.size).toBe(CONFIG_KEYS.length);
  });

  it('fills what is missing from the protocol profile, then the solver defaults under it', () => {
    expect(parseConfigQuery('').config).toEqual(DEFAULT_CONFIG);
    const neon = parseConfigQuery('?protocol=neon').config;
    expect(neon).toMatchObject({ shortcut: 'neon', solver: 'sgd', epochs: 180, schedule: { kind: 'neon' } });
    const rms = parseConfigQuery('protocol=gcr&solver=rmsprop').config;
    expect(rms).toMatchObject({ lr: 0.01, rho: 0.9, wd: 0 }); // gcr ran its adaptive solvers without weight decay
    const ada = parseConfigQuery('solver=adadelta').config;
    expect(ada.rho).toBe(0.3);
    expect(parseConfigQuery('solver=rmsprop&wd=0.0005').config.wd).toBe(0.0005); // explicit choice wins
  });

  it.each([
    ['depth=21', 'depth', /6n\+2/],
    ['depth=abc', 'depth', /number/],
    ['depth=0x14', 'depth', /number/],
    ['depth=', 'depth', /number/],
    ['lr=-1', 'lr', /between/],
    ['lr=Infinity', 'lr', /number/],
    ['lr=1e999', 'lr', /finite/],
    ['rho=1', 'rho', /below 1/],
    ['bnm=fast', 'bnm', /dynamic/],
    ['block=resnet', 'block', /one of/],
    ['shortcut=C', 'shortcut', /one of/],
    ['solver=lbfgs', 'solver', /one of/],
    ['protocol=caffe', 'protocol', /one of/],
    ['batch=1.5', 'batch', /whole/],
    ['seed=-3', 'seed', /between/],
    ['schedule=80:', 'schedule', /./],
    ['warmup=slow', 'warmup', /one of/],
  ])('%s is reported by name and replaced by the default', (q, key, why) => {
    const { config, issues, given } = parseConfigQuery(q);
    expect(issues).toHaveLength(1);
    expect(issues[0].key).toBe(key);
    expect(issues[0].message).toMatch(why);
    expect(issues[0].message).toContain(key);
    expect(given.has(key as never)).toBe(false);
    expect(config[key as keyof typeof config]).toEqual(DEFAULT_CONFIG[key as keyof typeof DEFAULT_CONFIG]);
  });

  it('reports unknown keys, repeated keys and oversized values, and never echoes markup unquoted', () => {
    const { issues, config } = parseConfigQuery('depth=56&colour=red&depth=32&seed=' + '9'.repeat(500) + '&<script>=1');
    expect(config.depth).toBe(56);
    expect(issues.map((i) => i.key)).toEqual(['colour', 'depth', '<script>', 'seed']);
    expect(issues.find((i) => i.key === '<script>')!.message).toContain('"<script>"');
  });

  it('strict parsing (the CLI) throws a ConfigError listing every problem', () => {
    expect(() => parseConfigQueryStrict('depth=21&solver=x')).toThrow(ConfigError);
    try {
      parseConfigQueryStrict('depth=21&solver=x');
    } catch (e) {
      expect((e as ConfigError).issues.map((i) => i.key)).toEqual(['depth', 'solver']);
    }
  });
});

describe('protocol switching', () => {
  it('a protocol fills its values but keeps what the user changed', () => {
    const mine = { ...DEFAULT_CONFIG, depth: 56, lr: 0.05, seed: 9 };
    const changed = changedFromProtocol(mine);
    expect([...changed].sort()).toEqual(['depth', 'lr']);
    const neon = applyProtocol(mine, 'neon', changed);
    expect(neon).toMatchObject({ protocol: 'neon', depth: 56, lr: 0.05, seed: 9, shortcut: 'neon', epochs: 180 });
    expect([...changedFromProtocol(neon)].sort()).toEqual(['depth', 'lr']);
  });
});

describe('description', () => {
  it('says what the choice means in one line', () => {
    const d = describeExperiment({ ...protocolDefaults('paper'), depth: 56 });
    expect(d).toContain('ResNet-56, 0.85M parameters'); // Table 6
    expect(d).toContain('SGD+momentum 0.1');
    expect(describeExperiment({ ...protocolDefaults('gcr'), depth: 56 })).toContain('SGD+Nesterov 0.1');
    expect(d).toContain('BN momentum 0.1 (Torch convention)');
    expect(d).not.toContain('\n');
  });
});
