// Weights chosen by the user as files (.safetensors, or model.json with weights.bin), decoded for the
// selected network or for the one the file names. Files are an edge: their configuration is a query
// string, parsed here. What it is not: the formats themselves (src/model/weights.ts).

import { parseConfigQuery, type ExperimentConfig } from '../experiment/config.ts';
import { modelSpec } from '../train/experiment.ts';
import type { ResNetSpec } from '../model/resnet.ts';
import {
  decodeSafetensors,
  decodeTfjs,
  parseTfjsModelJson,
  safetensorsConfig,
  WeightsError,
  type WeightsBundle,
} from '../model/weights.ts';
import type { NamedBytes } from './protocol.ts';

const archKey = (spec: ResNetSpec) => JSON.stringify(spec);

/**
 * Weights from chosen files: a .safetensors file, or model.json with its weights.bin. When the file
 * names a configuration whose network differs from the selected one, that configuration is used
 * (`fromFile`); otherwise the selected one. Throws WeightsError with what is wrong.
 */
export function decodeWeightFiles(
  files: NamedBytes[],
  selected: ExperimentConfig,
): { bundle: WeightsBundle; config: ExperimentConfig; fromFile: boolean } {
  const byExt = (re: RegExp) => files.find((f) => re.test(f.name));
  const st = byExt(/\.safetensors$/i);
  const json = byExt(/\.json$/i);
  const bin = byExt(/\.bin$/i);
  if (!st && !json) {
    throw new WeightsError(
      `None of ${files.map((f) => f.name).join(', ') || 'the chosen files'} is a weights file: choose the .safetensors file, or model.json together with its weights.bin.`,
    );
  }
  const pick = (fileQuery: string) => {
    if (!fileQuery) return { config: selected, fromFile: false };
    const parsed = parseConfigQuery(fileQuery);
    if (parsed.issues.length > 0) return { config: selected, fromFile: false };
    const same = archKey(modelSpec(parsed.config)) === archKey(modelSpec(selected));
    return same ? { config: selected, fromFile: false } : { config: parsed.config, fromFile: true };
  };
  if (st) {
    const { config, fromFile } = pick(safetensorsConfig(st.name, st.bytes));
    return { bundle: decodeSafetensors(modelSpec(config), st.name, st.bytes), config, fromFile };
  }
  const modelJson = parseTfjsModelJson(json!.name, new TextDecoder().decode(json!.bytes));
  if (!bin) throw new WeightsError(`${json!.name} needs its weights file (weights.bin): choose both files together.`);
  const { config, fromFile } = pick(modelJson.resnetLab?.config ?? '');
  return { bundle: decodeTfjs(modelSpec(config), modelJson, bin.bytes), config, fromFile };
}
