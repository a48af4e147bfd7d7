// `msg-cls train --registry mlflow`: logs a training run to MLflow (params, metrics, the model's files
// as the run's artifact `model/`) and registers those files as a new version of a registered model,
// optionally pointing an alias at it. REST calls, checked against MLflow 3.17.2:
//   GET  experiments/get-by-name?experiment_name=E   (404 RESOURCE_DOES_NOT_EXIST → POST experiments/create {name})
//   POST runs/create {experiment_id, run_name, start_time, tags}        → run.info.run_id, run.info.artifact_uri
//   POST runs/log-batch {run_id, params:[{key,value}], metrics:[{key,value,timestamp,step}]} (≤ 100 params, 1000 metrics)
//   PUT  /api/2.0/mlflow-artifacts/artifacts/<artifact path>/model/<file>   (the raw bytes)
//   POST registered-models/create {name}          (400 RESOURCE_ALREADY_EXISTS when it exists: fine)
//   POST model-versions/create {name, source: <artifact_uri>/model, run_id, tags} → model_version.version
//   GET  model-versions/get until status READY;  POST registered-models/alias {name, alias, version}
//   POST runs/update {run_id, status: FINISHED | FAILED, end_time}
// get-download-uri of such a version answers the source itself (mlflow-artifacts:/<exp>/<run>/artifacts/model),
// which is what ./mlflow.ts downloads.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { MlflowClient } from './mlflow-client.ts';
import { MlflowError } from './mlflow-client.ts';

export type PublishInput = {
  experiment: string;
  runName: string;
  name: string;
  alias: string | undefined;
  /** The model's files (a saved version directory). */
  dir: string;
  format: string;
  params: Record<string, string | number | boolean>;
  metrics: Record<string, number>;
};

export type Published = { experiment_id: string; run_id: string; version: string; source: string };

/** Nested metrics ({holdout: {f1: 0.9}}) as MLflow metric keys (holdout.f1); non-numbers are left out. */
export function flattenMetrics(value: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof value === 'number' && Number.isFinite(value)) out[prefix] = value;
  else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenMetrics(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

async function experimentId(client: MlflowClient, name: string): Promise<string> {
  try {
    const res = await client.call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', {
      experiment_name: name,
    });
    return res.experiment.experiment_id;
  } catch (err) {
    if (!(err instanceof MlflowError) || err.errorCode !== 'RESOURCE_DOES_NOT_EXIST') throw err;
  }
  return (await client.call<{ experiment_id: string }>('POST', 'experiments/create', { name })).experiment_id;
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

export async function publishToMlflow(client: MlflowClient, input: PublishInput): Promise<Published> {
  const experiment_id = await experimentId(client, input.experiment);
  const now = Date.now();
  const { run } = await client.call<{ run: { info: { run_id: string; artifact_uri: string } } }>(
    'POST',
    'runs/create',
    {
      experiment_id,
      run_name: input.runName,
      start_time: now,
      tags: [
        { key: 'mlflow.source.name', value: 'msg-cls train' },
        { key: 'msgcls.format', value: input.format },
      ],
    },
  );
  const { run_id, artifact_uri } = run.info;
  try {
    const params = Object.entries(input.params).map(([key, value]) => ({ key, value: String(value).slice(0, 6000) }));
    const metrics = Object.entries(input.metrics).map(([key, value]) => ({ key, value, timestamp: now, step: 0 }));
    for (let i = 0; i < Math.max(params.length, metrics.length); i += 100) {
      await client.call('POST', 'runs/log-batch', {
        run_id,
        params: params.slice(i, i + 100),
        metrics: metrics.slice(i, i + 100),
      });
    }
    const served = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifact_uri);
    if (!served) {
      throw new MlflowError(
        'other',
        `the run's artifact location ${artifact_uri} is not served by the tracking server: start it with --serve-artifacts (the default) and an --artifacts-destination`,
      );
    }
    const base = served[1].replace(/\/+$/, '');
    for (const rel of await listFiles(input.dir)) {
      const path = `api/2.0/mlflow-artifacts/artifacts/${`${base}/model/${rel}`.split('/').map(encodeURIComponent).join('/')}`;
      const res = await client.raw('PUT', path, await readFile(join(input.dir, rel)));
      await res.body?.cancel();
      if (!res.ok) throw new MlflowError('other', `uploading ${rel} to the run's artifacts answered ${res.status}`);
    }
    await client.call('POST', 'registered-models/create', { name: input.name }).catch((err) => {
      if (!(err instanceof MlflowError) || err.errorCode !== 'RESOURCE_ALREADY_EXISTS') throw err;
    });
    const source = `${artifact_uri.replace(/\/+$/, '')}/model`;
    const { model_version } = await client.call<{ model_version: { version: string; status?: string } }>(
      'POST',
      'model-versions/create',
      { name: input.name, source, run_id, tags: [{ key: 'msgcls.format', value: input.format }] },
    );
    const version = String(model_version.version);
    let status = model_version.status;
    for (let i = 0; status === 'PENDING_REGISTRATION' && i < 600; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (
        await client.call<{ model_version: { status: string } }>('GET', 'model-versions/get', {
          name: input.name,
          version,
        })
      ).model_version.status;
    }
    if (status !== undefined && status !== 'READY') {
      throw new MlflowError('other', `version ${version} of ${input.name} is ${status}, not READY`);
    }
    if (input.alias !== undefined) {
      await client.call('POST', 'registered-models/alias', { name: input.name, alias: input.alias, version });
    }
    await client.call('POST', 'runs/update', { run_id, status: 'FINISHED', end_time: Date.now() });
    return { experiment_id, run_id, version, source };
  } catch (err) {
    await client.call('POST', 'runs/update', { run_id, status: 'FAILED', end_time: Date.now() }).catch(() => undefined);
    throw err;
  }
}
