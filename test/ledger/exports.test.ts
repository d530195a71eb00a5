// The SPDX 3.0.1 and CycloneDX 1.6 exports of a run record: valid against the published schemas (vendored in
// test/fixtures/schemas), filled from the record, silent about what it does not know; broken documents fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonSchemaValidator, type Schema } from '../../src/ledger/json-schema.js';
import { exportCycloneDx, exportSpdx } from '../../src/cards/exports/index.js';
import { readRunRecord, type RunRecord } from '../../src/ledger/record.js';
import { main } from '../../src/cli/main.js';
import { tempDir, tinyRun } from './fixtures.js';

const SCHEMAS = join(process.cwd(), 'test', 'fixtures', 'schemas');
const schema = (file: string) => JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')) as Schema;
const cyclonedx = new JsonSchemaValidator(schema('bom-1.6.schema.json'), {
  schemas: [schema('spdx.schema.json'), schema('jsf-0.82.schema.json')],
});
const spdx = new JsonSchemaValidator(schema('spdx-3.0.1.schema.json'));

// Exported documents are walked freely here; the schemas, not the types, are what the tests check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const graph = (doc: Json, type: string): Json[] => (doc['@graph'] as Json[]).filter((e) => e.type === type);

let record: RunRecord;
let runDir: string;
const cleanups: (() => void)[] = [];

before(async () => {
  const config = tempDir('candor-exports-config-');
  const run = tempDir('candor-exports-run-');
  cleanups.push(config.done, run.done);
  process.env.CANDOR_CONFIG_DIR = config.dir;
  runDir = run.dir;
  // A short real training run, saved (so the record has its files' hashes), with a PII scan noted.
  const tiny = await tinyRun({ dir: runDir, epochs: 2 });
  await tiny.recorder.notePII({ email: 3, ipv4: 0 }, 'tag');
  await tiny.model.save(runDir);
  await tiny.recorder.addArtifacts(runDir);
  tiny.dispose();
  record = await readRunRecord(runDir);
});

after(() => cleanups.forEach((f) => f()));

test('a real run: the CycloneDX ML-BOM validates and carries the model card, hashes and energy', () => {
  const bom = exportCycloneDx(record);
  assert.deepEqual(cyclonedx.validate(bom), []);
  assert.equal(bom.serialNumber, `urn:uuid:${record.id}`);
  const [model, ...data] = bom.components as Json[];
  assert.equal(model.type, 'machine-learning-model');
  // Every saved file, with the SHA-256 the record holds.
  const files = Object.entries(record.model.artifacts!);
  assert.ok(files.length >= 2);
  assert.deepEqual(
    (model.components as Json[]).map((c) => [c.name, c.hashes[0].alg, c.hashes[0].content]),
    files.map(([name, a]) => [name, 'SHA-256', a.sha256]),
  );
  const params = model.modelCard.modelParameters;
  assert.deepEqual(params.approach, { type: 'supervised' });
  assert.equal(params.task, 'classification');
  assert.equal(params.architectureFamily, 'multilayer perceptron');
  assert.equal(params.modelArchitecture, 'Sequential: Dense > Dense');
  assert.deepEqual(params.inputs, [{ format: 'float32 tensor, shape [4] per sample' }]);
  assert.equal(params.outputs, undefined, 'the record does not state the output format');
  // The evaluation ran on the training data: one dataset, referenced, not two.
  assert.deepEqual(params.datasets, [{ ref: 'dataset-1' }]);
  assert.equal(data.length, 1);
  assert.equal(data[0].type, 'data');
  assert.match(data[0].data[0].sensitiveData[0], /^3 email found/);
  assert.equal(data[0].data[0].sensitiveData.length, 1, 'a type found 0 times is not reported');
  const metrics = model.modelCard.quantitativeAnalysis.performanceMetrics as Json[];
  assert.deepEqual(
    metrics.find((m) => m.type === 'accuracy'),
    {
      type: 'accuracy',
      value: String(record.evaluation[0].metrics.accuracy),
      slice: 'train-eval',
    },
  );
  // One entry per stage of the run's life; the training stage is CycloneDX's 'training' activity.
  const energies = model.modelCard.considerations.environmentalConsiderations.energyConsumptions as Json[];
  assert.deepEqual(
    energies.map((e) => e.properties[0].value),
    record.stages!.filter((s) => s.joules !== null).map((s) => s.stage),
  );
  const energy = energies.find((e) => e.activity === 'training')!;
  assert.deepEqual(energy.energyProviders, [], 'no invented electricity supplier');
  assert.deepEqual(energy.activityEnergyCost, { value: trainingKWh(), unit: 'kWh' });
  const g = record.emissions!.grid.gPerKWh;
  assert.deepEqual(energy.co2CostEquivalent, { value: (trainingKWh() * g) / 1e6, unit: 'tCO2eq' });
  // Nothing that only people can say (licence, supplier, limitations) without card.json.
  for (const k of ['licenses', 'supplier', 'version']) assert.equal(model[k], undefined, k);
  assert.equal(model.modelCard.considerations.technicalLimitations, undefined);
});

test('a real run: the SPDX 3.0.1 document validates, with the AI and Dataset classes and relationships', () => {
  const doc = exportSpdx(record);
  assert.deepEqual(spdx.validate(doc), []);
  const [ai] = graph(doc, 'ai_AIPackage');
  assert.deepEqual(ai.ai_energyConsumption.ai_trainingEnergyConsumption, [
    { type: 'ai_EnergyConsumptionDescription', ai_energyQuantity: trainingKWh(), ai_energyUnit: 'kilowattHour' },
  ]);
  const hp = Object.fromEntries((ai.ai_hyperparameter as Json[]).map((e) => [e.key, e.value]));
  assert.equal(hp.optimizer, 'Adam');
  assert.equal(hp['optimizer.learningRate'], '0.001');
  assert.equal(hp.batchSize, '8');
  assert.equal(hp['seed.fit'], '11');
  assert.ok((ai.ai_metric as Json[]).some((m) => m.key === 'train-eval/accuracy'));
  assert.equal(ai.ai_useSensitivePersonalInformation, 'yes');
  for (const k of ['ai_domain', 'ai_autonomyType', 'ai_limitation', 'ai_safetyRiskAssessment', 'suppliedBy'])
    assert.equal(ai[k], undefined, `${k} is not known to the record`);
  const [dataset] = graph(doc, 'dataset_DatasetPackage');
  assert.deepEqual(dataset.dataset_datasetType, ['noAssertion']);
  assert.equal(dataset.dataset_datasetSize, 30 * 4 * 4 + 30 * 4);
  assert.equal(dataset.dataset_hasSensitivePersonalInformation, 'yes');
  assert.deepEqual(
    (dataset.verifiedUsing as Json[]).map((h) => h.hashValue),
    [...record.data[0].x, ...record.data[0].y!].map((f) => f.sha256 ?? f.hmacSha256),
  );
  const rel = (type: string) => graph(doc, 'Relationship').filter((r) => r.relationshipType === type);
  assert.deepEqual(
    rel('trainedOn').map((r) => [r.from, r.to]),
    [[ai.spdxId, [dataset.spdxId]]],
  );
  assert.deepEqual(
    rel('testedOn').map((r) => [r.from, r.to]),
    [[ai.spdxId, [dataset.spdxId]]],
  );
  const files = graph(doc, 'software_File');
  assert.deepEqual(
    files.map((f) => [f.name, f.verifiedUsing[0].hashValue]),
    Object.entries(record.model.artifacts!).map(([n, a]) => [n, a.sha256]),
  );
  assert.equal(rel('contains').length, files.length);
  // Every element the document lists is in the graph, and nothing else is.
  const [document] = graph(doc, 'SpdxDocument');
  const ids = (doc['@graph'] as Json[]).filter((e) => e.spdxId && e.type !== 'SpdxDocument').map((e) => e.spdxId);
  assert.deepEqual([...document.element].sort(), ids.sort());
  assert.equal(graph(doc, 'CreationInfo')[0].created, record.createdAt.replace(/\.\d+Z$/, 'Z'));
});

test('card.json text is exported as written; an old record without energy or privacy exports what it has', () => {
  const user = { modelName: 'Blobs', version: '1.2.0', provider: 'ACME', license: 'MIT', limitations: 'Toy data.' };
  const bom = exportCycloneDx(record, { user });
  const doc = exportSpdx(record, { user });
  assert.deepEqual(cyclonedx.validate(bom), []);
  assert.deepEqual(spdx.validate(doc), []);
  const model = (bom.components as Json[])[0];
  assert.deepEqual(
    [model.name, model.version, model.supplier, model.licenses],
    ['Blobs', '1.2.0', { name: 'ACME' }, [{ license: { name: 'MIT' } }]],
  );
  assert.deepEqual(model.modelCard.considerations.technicalLimitations, ['Toy data.']);
  const [ai] = graph(doc, 'ai_AIPackage');
  assert.equal(ai.ai_limitation, 'Toy data.');
  assert.equal(ai.software_packageVersion, '1.2.0');
  assert.equal(graph(doc, 'Organization')[0].spdxId, ai.suppliedBy);
  assert.equal(graph(doc, 'simplelicensing_LicenseExpression')[0].simplelicensing_licenseExpression, 'MIT');

  // A record as older versions wrote it: no privacy, no artifacts, no evaluations, energy not recorded.
  const old = clone(record) as Json;
  for (const k of ['privacy', 'explanations', 'compression', 'stages', 'card']) delete old[k];
  delete old.model.artifacts;
  Object.assign(old, { energy: null, emissions: null, evaluation: [], id: 'run-7' });
  const oldBom = exportCycloneDx(old as RunRecord);
  const oldDoc = exportSpdx(old as RunRecord);
  assert.deepEqual(cyclonedx.validate(oldBom), []);
  assert.deepEqual(spdx.validate(oldDoc), []);
  const oldModel = (oldBom.components as Json[])[0];
  assert.equal(oldBom.serialNumber, undefined, 'an id that is not a UUID gives no serial number');
  assert.equal(oldModel.components, undefined);
  assert.equal(oldModel.modelCard.considerations, undefined);
  assert.equal(oldModel.modelCard.quantitativeAnalysis, undefined);
  const [oldAi] = graph(oldDoc, 'ai_AIPackage');
  for (const k of ['ai_energyConsumption', 'ai_metric', 'ai_useSensitivePersonalInformation'])
    assert.equal(oldAi[k], undefined, k);
  assert.equal(graph(oldDoc, 'Relationship').filter((r) => r.relationshipType === 'testedOn').length, 0);
});

test("issue 12's record fields: stages, published source files and keyed fingerprints are exported", () => {
  const r = clone(record) as Json;
  const hmac = (f: Json) => ({
    shape: f.shape,
    dtype: f.dtype,
    bytes: f.bytes,
    hmacSha256: 'c'.repeat(64),
    keyId: 'k1',
  });
  r.data[0].x = r.data[0].x.map(hmac);
  r.data[0].y = r.data[0].y.map(hmac);
  r.data[0].source = {
    name: 'MNIST',
    licence: 'CC-BY-SA-3.0',
    url: 'https://yann.lecun.com/exdb/mnist/',
    files: [{ name: 'train-images-idx3-ubyte.gz', sha256: 'd'.repeat(64), bytes: 9912422 }],
  };
  r.evaluation = [];
  r.energy.platform = { kind: 'virtual-machine', evidence: ['cpuid hypervisor bit'] };
  r.energy.assumptions = ['2 vCPUs at 5 W each (a published per-vCPU figure).'];
  r.stages = [
    { stage: 'fingerprinting', wallSeconds: 0.1, cpuSeconds: 0.1, flops: 0, joules: 3.6 },
    { stage: 'training', wallSeconds: 1, cpuSeconds: 1, flops: 1e6, joules: 36 },
    { stage: 'saving', wallSeconds: 0.1, cpuSeconds: 0.1, flops: 0, joules: null },
  ];
  const bom = exportCycloneDx(r as RunRecord);
  const doc = exportSpdx(r as RunRecord);
  assert.deepEqual(cyclonedx.validate(bom), []);
  assert.deepEqual(spdx.validate(doc), []);
  const [model, data] = bom.components as Json[];
  const energy = model.modelCard.considerations.environmentalConsiderations.energyConsumptions as Json[];
  // One entry per stage with a known energy; a stage CycloneDX has no activity for is 'other', named.
  assert.deepEqual(
    energy.map((e) => [e.activity, e.activityEnergyCost.value, e.properties[0].value]),
    [
      ['other', 1e-6, 'fingerprinting'],
      ['training', 1e-5, 'training'],
    ],
  );
  const envProps = model.modelCard.considerations.environmentalConsiderations.properties as Json[];
  assert.deepEqual(
    envProps.filter((p) => /platform|assumption/.test(p.name)),
    [
      { name: 'candor:energy:platform', value: 'virtual-machine' },
      { name: 'candor:energy:assumption', value: '2 vCPUs at 5 W each (a published per-vCPU figure).' },
    ],
  );
  const g = record.emissions!.grid.gPerKWh;
  assert.ok(Math.abs(energy[1].co2CostEquivalent.value - (1e-5 * g) / 1e6) < 1e-18);
  assert.equal(data.name, 'MNIST');
  assert.deepEqual(data.components[0].hashes, [{ alg: 'SHA-256', content: 'd'.repeat(64) }]);
  assert.deepEqual(data.externalReferences, [{ type: 'distribution', url: 'https://yann.lecun.com/exdb/mnist/' }]);
  const [ai] = graph(doc, 'ai_AIPackage');
  assert.equal(ai.ai_energyConsumption.ai_trainingEnergyConsumption[0].ai_energyQuantity, 1e-5);
  const [dataset] = graph(doc, 'dataset_DatasetPackage');
  assert.equal(dataset.software_downloadLocation, 'https://yann.lecun.com/exdb/mnist/');
  assert.deepEqual(
    (dataset.verifiedUsing as Json[]).map((h) => [h.algorithm, h.hashValue]),
    [
      ['other', 'c'.repeat(64)],
      ['other', 'c'.repeat(64)],
    ],
  );
  assert.match(dataset.verifiedUsing[0].comment, /^HMAC-SHA256 keyed with Candor fingerprint key k1/);
  const dataFile = graph(doc, 'software_File').find((f) => f.name === 'train-images-idx3-ubyte.gz')!;
  assert.equal(dataFile.verifiedUsing[0].hashValue, 'd'.repeat(64));
  const hasDataFile = graph(doc, 'Relationship').find((x) => x.relationshipType === 'hasDataFile')!;
  assert.deepEqual([hasDataFile.from, hasDataFile.to], [dataset.spdxId, [dataFile.spdxId]]);
});

test('broken CycloneDX documents fail validation, each naming what is wrong', () => {
  const good = exportCycloneDx(record);
  const cases: [string, (b: Json) => void, RegExp][] = [
    ['energy in joules', (b) => (energyOf(b).activityEnergyCost.unit = 'J'), /activityEnergyCost\.unit: "J" is not/],
    ['no providers list', (b) => delete energyOf(b).energyProviders, /missing required property 'energyProviders'/],
    ['a short hash', (b) => (b.components[0].components[0].hashes[0].content = 'abc'), /content: "abc" does not match/],
    ['a bad serial number', (b) => (b.serialNumber = 'urn:uuid:x'), /serialNumber: "urn:uuid:x" does not match/],
    ['an unknown component type', (b) => (b.components[0].type = 'model'), /components\[0\]\.type: "model" is not/],
    ['an unknown model card field', (b) => (b.components[0].modelCard.accuracy = 1), /unexpected property 'accuracy'/],
    ['a bad timestamp', (b) => (b.metadata.timestamp = 'today'), /timestamp: "today" is not an RFC 3339 date-time/],
    ['a twice-listed component', (b) => b.components.push(clone(b.components[1])), /components\[2\]: repeats/],
    [
      'an unknown SPDX licence id (in the referenced spdx.schema.json)',
      (b) => (b.components[0].licenses = [{ license: { id: 'Not-A-Licence' } }]),
      /licenses: matches 0 of oneOf/,
    ],
    ['a bad approach', (b) => (b.components[0].modelCard.modelParameters.approach.type = 'guess'), /"guess" is not/],
  ];
  assertEachRejected(cyclonedx, good, cases);
});

test('broken SPDX documents fail validation, each naming what is wrong', () => {
  const good = exportSpdx(record);
  const ai = (d: Json) => graph(d, 'ai_AIPackage')[0];
  const cases: [string, (d: Json) => void, RegExp][] = [
    [
      'a wrong @context',
      (d) => (d['@context'] = 'https://spdx.org/rdf/3.0.0/spdx-context.jsonld'),
      /@context: must be/,
    ],
    [
      'a timestamp with milliseconds',
      (d) => (graph(d, 'CreationInfo')[0].created = record.createdAt),
      /nearest: \$\.@graph\[0\]\.created: "[^"]+\.\d+Z" does not match/,
    ],
    [
      'energy in joules',
      (d) => (ai(d).ai_energyConsumption.ai_trainingEnergyConsumption[0].ai_energyUnit = 'joule'),
      /ai_trainingEnergyConsumption\[0\]\.ai_energyUnit: "joule" is not one of \["kilowattHour","megajoule","other"\]/,
    ],
    [
      'an unknown AI property',
      (d) => (ai(d).ai_accuracy = '0.9'),
      /nearest: \$\.@graph\[\d+\]: unexpected property 'ai_accuracy'/,
    ],
    ['an element without creationInfo', (d) => delete ai(d).creationInfo, /missing required property 'creationInfo'/],
    [
      'a dataset without a type',
      (d) => delete graph(d, 'dataset_DatasetPackage')[0].dataset_datasetType,
      /missing required property 'dataset_datasetType'/,
    ],
    [
      'an unknown relationship',
      (d) => (graph(d, 'Relationship')[0].relationshipType = 'madeFrom'),
      /relationshipType: "madeFrom" is not one of 59 values/,
    ],
    [
      'a hash value that is a number',
      (d) => (graph(d, 'software_File')[0].verifiedUsing[0].hashValue = 1),
      /verifiedUsing\[0\]\.hashValue: expected string, got number 1/,
    ],
  ];
  assertEachRejected(spdx, good, cases);
});

test('candor export spdx|cyclonedx RUN_DIR [-o FILE] writes valid documents; a bad format: usage error', async () => {
  const logs: string[] = [];
  const out = { log: (s: string) => logs.push(s), error: (s: string) => logs.push(s) };
  const file = join(runDir, 'bom.cdx.json');
  assert.equal(await main(['export', 'cyclonedx', runDir, '-o', file], out), 0);
  assert.deepEqual(cyclonedx.validate(JSON.parse(readFileSync(file, 'utf8'))), []);
  logs.length = 0;
  assert.equal(await main(['export', 'spdx', runDir], out), 0);
  assert.deepEqual(spdx.validate(JSON.parse(logs.join('\n'))), []);
  assert.equal(await main(['export', 'swid', runDir], out), 2);
  assert.match(logs.at(-1)!, /the format must be spdx or cyclonedx, got 'swid'/);
});

/** Each case breaks a copy of the valid document; the validator must name the break (a problem matching it). */
function assertEachRejected(validator: JsonSchemaValidator, good: Json, cases: [string, (d: Json) => void, RegExp][]) {
  for (const [what, breakIt, want] of cases) {
    const broken = clone(good);
    breakIt(broken);
    const problems = validator.validate(broken);
    assert.ok(
      problems.some((p) => want.test(p)),
      `${what}: ${problems.join('\n') || 'no problem found'}`,
    );
  }
}

/** The training stage's energy in kWh (the exports' training figure). */
function trainingKWh(): number {
  return record.stages!.find((s) => s.stage === 'training')!.joules! / 3.6e6;
}

function energyOf(b: Json): Json {
  return b.components[0].modelCard.considerations.environmentalConsiderations.energyConsumptions[0];
}
