'use strict';
// Drives Molar's DICOMweb service with dicomweb-client, the library OHIF
// uses, the way OHIF calls it. Run by dicomweb/e2e_test.go:
//
//   MOLAR_E2E_NODE_MODULES=<dir>/node_modules MOLAR_E2E_TOKEN=<token> \
//     node client.js <DICOMweb root URL> <manifest.json> <results.json>
//
// The manifest (written by the Go test) lists the studies, series and
// instances the test made, with the paths of their Part 10 files and of
// their raw pixel data. Every step is run, even after one fails; the
// results file gets one entry per step ({name, ok, detail | error}), the
// requests dicomweb-client sent, and complete: true when the script ran to
// its end. The exit status is 0 only when every step passed.
//
// By hand: `npm ci` in this folder (node_modules/ is ignored by git) and
// leave MOLAR_E2E_NODE_MODULES unset.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const modules = process.env.MOLAR_E2E_NODE_MODULES;
const load = (name) => require(modules ? path.join(modules, name) : name);

// dicomweb-client uses XMLHttpRequest, which Node lacks.
globalThis.XMLHttpRequest = load('xhr2');
const dicomweb = load('dicomweb-client');

const [baseURL, manifestPath, resultsPath] = process.argv.slice(2);
const token = process.env.MOLAR_E2E_TOKEN;
if (!baseURL || !manifestPath || !resultsPath || !token) {
  console.error('usage: MOLAR_E2E_TOKEN=... node client.js <DICOMweb root URL> <manifest.json> <results.json>');
  process.exit(2);
}
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));

const results = {
  node: process.version,
  dicomwebClient: load('dicomweb-client/package.json').version,
  steps: [],
  requests: [],
  complete: false,
};

// Every request dicomweb-client sends goes through this hook (it must take
// two arguments to be accepted), so the Go test can match them against
// what the server saw, and a step can read the status and headers of the
// response it just got.
let lastXHR = null;
function hook(xhr, meta) {
  lastXHR = xhr;
  results.requests.push({ method: meta.method.toUpperCase(), url: meta.url });
  return xhr;
}

function newClient(headers, extra) {
  return new dicomweb.api.DICOMwebClient(Object.assign({
    url: baseURL,
    headers,
    requestHooks: [hook],
    verbose: false, // failures are reported by the steps, not dumped
  }, extra || {}));
}

const client = newClient({ Authorization: `Bearer ${token}` });

// ---- helpers ----

class StepError extends Error {}

function check(cond, msg) {
  if (!cond) throw new StepError(msg);
}

function eq(got, want, what) {
  check(got === want, `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

function sameSet(got, want, what) {
  const g = [...got].sort();
  const w = [...want].sort();
  check(JSON.stringify(g) === JSON.stringify(w), `${what}: got ${JSON.stringify(g)}, want ${JSON.stringify(w)}`);
}

const sha256 = (bytes) => crypto.createHash('sha256').update(toBuffer(bytes)).digest('hex');

function toBuffer(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  throw new StepError(`expected bytes, got ${describe(x)}`);
}

function toArrayBuffer(buf) {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

function describe(x) {
  if (x === null || x === undefined) return String(x);
  if (x instanceof ArrayBuffer) return `ArrayBuffer(${x.byteLength})`;
  if (Array.isArray(x)) return `array of ${x.length}`;
  return typeof x === 'object' ? `${x.constructor && x.constructor.name} ${JSON.stringify(x).slice(0, 200)}` : `${typeof x} ${String(x).slice(0, 200)}`;
}

// The first value of a DICOM JSON attribute, or undefined.
function first(ds, tag) {
  const a = ds && ds[tag];
  return a && Array.isArray(a.Value) ? a.Value[0] : undefined;
}

function values(ds, tag) {
  const a = ds && ds[tag];
  return a && Array.isArray(a.Value) ? a.Value : [];
}

function present(ds, tag, what) {
  check(ds && Object.prototype.hasOwnProperty.call(ds, tag), `${what}: attribute ${tag} missing (have ${Object.keys(ds || {}).join(',')})`);
}

// Compares received bytes with expected ones, naming the first difference.
function sameBytes(got, want, what) {
  const g = toBuffer(got);
  check(g.length === want.length, `${what}: ${g.length} bytes, want ${want.length}`);
  const i = g.findIndex((b, j) => b !== want[j]);
  check(i < 0, `${what}: differs from byte ${i} (got 0x${i >= 0 ? g[i].toString(16) : ''}, want 0x${i >= 0 ? want[i].toString(16) : ''})`);
}

function header(name) {
  return lastXHR ? lastXHR.getResponseHeader(name) : null;
}

// Describes a failed request from dicomweb-client's error (status and the
// start of the body) or any other exception.
function explain(err) {
  if (err instanceof StepError) return err.message;
  if (err && err.status !== undefined && err.request) {
    let body = err.response;
    if (body instanceof ArrayBuffer) body = Buffer.from(body).toString('utf8');
    else if (body && typeof body === 'object') body = JSON.stringify(body);
    const xhr = err.request;
    return `HTTP ${err.status} from ${xhr._url ? xhr._url.href || xhr._url : 'the server'}: ${String(body || '').trim().slice(0, 300)}`;
  }
  return err && err.stack ? err.stack : String(err);
}

// dicomweb-client decodes a response inside the XMLHttpRequest callback:
// when that throws (a multipart body it cannot parse), the exception is
// uncaught and the request's promise never settles. Such a fault, or a
// step that gets no answer, fails the step it happened in.
const STEP_TIMEOUT_MS = 20000;
let fault = null;
function onFault(err) {
  const msg = `dicomweb-client failed outside its promise (it cannot parse the response): ${explain(err)}`;
  if (fault) {
    fault(new StepError(msg));
  } else {
    results.error = msg;
    console.error(msg);
  }
}
process.on('uncaughtException', onFault);
process.on('unhandledRejection', onFault);

async function step(name, fn) {
  const entry = { name };
  const t0 = Date.now();
  let timer;
  const faulted = new Promise((_, reject) => {
    fault = reject;
    timer = setTimeout(() => reject(new StepError(`no answer within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
  });
  try {
    entry.detail = (await Promise.race([fn(), faulted])) || '';
    entry.ok = true;
  } catch (err) {
    entry.ok = false;
    entry.error = explain(err);
  } finally {
    clearTimeout(timer);
    fault = null;
  }
  entry.ms = Date.now() - t0;
  results.steps.push(entry);
  console.error(`${entry.ok ? 'ok  ' : 'FAIL'} ${name}${entry.ok ? '' : ': ' + entry.error}`);
}

// ---- the data ----

const studies = manifest.studies;
const instances = [];
for (const st of studies) {
  for (const se of st.series) {
    for (const inst of se.instances) {
      inst.study = st;
      inst.series = se;
      inst.bytes = fs.readFileSync(inst.file);
      inst.pixels = fs.readFileSync(inst.pixelFile);
      instances.push(inst);
    }
  }
}
const bySOP = new Map(instances.map((i) => [i.sopUID, i]));
// Frame k (from 1) of an instance's native pixel data.
const frameBytes = (inst, k) => {
  const n = inst.rows * inst.columns * 2;
  return inst.pixels.subarray((k - 1) * n, k * n);
};
const multiFrame = instances.find((i) => i.frames > 1);
const range1 = (n) => Array.from({ length: n }, (_, i) => i + 1);
const studyCount = (st) => st.series.reduce((n, se) => n + se.instances.length, 0);
// The study with two series, and its first series (two instances).
const big = studies.find((st) => st.series.length > 1);
const bigSeries = big.series.find((se) => se.instances.length > 1) || big.series[0];
const other = studies.find((st) => st !== big);
const uids = (inst) => ({
  studyInstanceUID: inst.study.studyUID,
  seriesInstanceUID: inst.series.seriesUID,
  sopInstanceUID: inst.sopUID,
});

function checkRetrieveURL(url, want, what) {
  check(typeof url === 'string', `${what}: no RetrieveURL (00081190)`);
  eq(url, baseURL + want, `${what}: RetrieveURL`);
}

function checkStudyResult(ds, st) {
  const what = `study ${st.studyUID}`;
  eq(first(ds, '0020000D'), st.studyUID, `${what}: StudyInstanceUID`);
  eq(first(ds, '00080050'), st.accession, `${what}: AccessionNumber`);
  eq(first(ds, '00100020'), st.patientID, `${what}: PatientID`);
  const pn = first(ds, '00100010');
  eq(pn && pn.Alphabetic, st.patientName, `${what}: PatientName.Alphabetic`);
  eq(first(ds, '00081030'), st.description, `${what}: StudyDescription`);
  eq(first(ds, '00080020'), st.date, `${what}: StudyDate`);
  // OHIF's study list shows these.
  present(ds, '00201208', what);
  eq(Number(first(ds, '00201208')), studyCount(st), `${what}: NumberOfStudyRelatedInstances (00201208)`);
  eq(Number(first(ds, '00201206')), st.series.length, `${what}: NumberOfStudyRelatedSeries (00201206)`);
  present(ds, '00080061', what);
  sameSet(values(ds, '00080061'), st.modalities, `${what}: ModalitiesInStudy (00080061)`);
  checkRetrieveURL(first(ds, '00081190'), `/studies/${st.studyUID}`, what);
}

function checkInstanceMetadata(list, want, what) {
  check(Array.isArray(list), `${what}: not an array but ${describe(list)}`);
  eq(list.length, want.length, `${what}: number of instances`);
  sameSet(list.map((ds) => first(ds, '00080018')), want.map((i) => i.sopUID), `${what}: SOPInstanceUIDs`);
  for (const ds of list) {
    const inst = bySOP.get(first(ds, '00080018'));
    const w = `${what}: instance ${inst.sopUID}`;
    eq(first(ds, '0020000D'), inst.study.studyUID, `${w}: StudyInstanceUID`);
    eq(first(ds, '0020000E'), inst.series.seriesUID, `${w}: SeriesInstanceUID`);
    eq(first(ds, '00080016'), inst.sopClassUID, `${w}: SOPClassUID`);
    eq(Number(first(ds, '00280010')), inst.rows, `${w}: Rows`);
    eq(Number(first(ds, '00280011')), inst.columns, `${w}: Columns`);
    eq(Number(first(ds, '00280100')), 16, `${w}: BitsAllocated`);
    if (inst.frames > 1) eq(Number(first(ds, '00280008')), inst.frames, `${w}: NumberOfFrames`);
    const pd = ds['7FE00010'];
    check(pd, `${w}: no PixelData (7FE00010)`);
    check(!pd.InlineBinary, `${w}: PixelData sent inline, want a BulkDataURI`);
    const uri = pd.BulkDataURI;
    check(typeof uri === 'string' && uri !== '', `${w}: PixelData has no BulkDataURI (${JSON.stringify(pd).slice(0, 200)})`);
    let u;
    try {
      u = new URL(uri); // throws on a relative URI
    } catch (e) {
      throw new StepError(`${w}: PixelData BulkDataURI ${JSON.stringify(uri)} is not absolute`);
    }
    check(u.protocol === 'http:' || u.protocol === 'https:', `${w}: BulkDataURI ${uri} is not http(s)`);
    check(uri.startsWith(baseURL + '/'), `${w}: BulkDataURI ${uri} is not under ${baseURL}`);
  }
}

function pixelBulkURI(list, inst) {
  const ds = list.find((d) => first(d, '00080018') === inst.sopUID);
  return ds['7FE00010'].BulkDataURI;
}

function checkParts(parts, want, what) {
  check(Array.isArray(parts), `${what}: not an array of parts but ${describe(parts)}`);
  eq(parts.length, want.length, `${what}: number of parts`);
  const got = parts.map((p) => sha256(p));
  for (const inst of want) {
    if (!got.includes(inst.sha256)) {
      const sizes = parts.map((p) => toBuffer(p).length);
      throw new StepError(`${what}: no part has the bytes of instance ${inst.sopUID} (${inst.bytes.length} bytes, SHA-256 ${inst.sha256}); parts of ${sizes.join(', ')} bytes`);
    }
  }
  for (const p of parts) {
    eq(p.contentType, 'application/dicom', `${what}: part Content-Type`);
  }
}

function expect401(promiseFn, what) {
  return (async () => {
    let res;
    try {
      res = await promiseFn();
    } catch (err) {
      if (err instanceof StepError) throw err;
      check(err && err.status === 401, `${what}: want HTTP 401, got ${explain(err)}`);
      const challenge = err.request.getResponseHeader('WWW-Authenticate') || '';
      check(/^Bearer\b/i.test(challenge), `${what}: 401 without a Bearer WWW-Authenticate challenge (got ${JSON.stringify(challenge)})`);
      return;
    }
    throw new StepError(`${what}: succeeded without a valid token (${describe(res)})`);
  })();
}

// Checks a JPEG: SOI first, EOI last, and a frame header (SOFn) of the
// image's size (no viewport was asked for, so the source's).
function isJPEG(bytes, inst, what) {
  const b = toBuffer(bytes);
  check(b.length > 4, `${what}: ${b.length} bytes`);
  check(b[0] === 0xff && b[1] === 0xd8, `${what}: does not start with the JPEG SOI marker FF D8 (starts ${b.subarray(0, 8).toString('hex')})`);
  check(b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9, `${what}: does not end with the JPEG EOI marker FF D9`);
  for (let i = 2; i + 9 < b.length;) {
    check(b[i] === 0xff, `${what}: no JPEG marker at byte ${i}`);
    const marker = b[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = b.readUInt16BE(i + 5);
      const width = b.readUInt16BE(i + 7);
      check(width === inst.columns && height === inst.rows, `${what}: JPEG of ${width}x${height}, want the image's ${inst.columns}x${inst.rows}`);
      return `${width}x${height} JPEG of ${b.length} bytes`;
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  throw new StepError(`${what}: no JPEG frame header (SOFn)`);
}

// ---- the steps ----

async function main() {
  await step('STOW storeInstances: all instances in one request', async () => {
    const resp = await client.storeInstances({ datasets: instances.map((i) => toArrayBuffer(i.bytes)) });
    eq(lastXHR.status, 200, 'HTTP status');
    const ds = typeof resp === 'string' ? JSON.parse(resp) : resp;
    check(!ds['00081198'], `FailedSOPSequence present: ${JSON.stringify(ds['00081198'])}`);
    const refs = values(ds, '00081199');
    sameSet(refs.map((r) => first(r, '00081155')), instances.map((i) => i.sopUID), 'ReferencedSOPSequence SOP Instance UIDs');
    for (const r of refs) {
      const inst = bySOP.get(first(r, '00081155'));
      eq(first(r, '00081150'), inst.sopClassUID, 'ReferencedSOPClassUID');
      checkRetrieveURL(first(r, '00081190'), `/studies/${inst.study.studyUID}/series/${inst.series.seriesUID}/instances/${inst.sopUID}`, `stored ${inst.sopUID}`);
    }
    return `${refs.length} instances of ${studies.length} studies stored`;
  });

  await step('STOW storeInstances into a study: the same bytes again', async () => {
    // A resend (a modality retrying) must succeed and change nothing;
    // the searches below check that nothing was counted twice.
    const inst = other.series[0].instances[0];
    const resp = await client.storeInstances({ studyInstanceUID: other.studyUID, datasets: [toArrayBuffer(inst.bytes)] });
    eq(lastXHR.status, 200, 'HTTP status');
    const ds = typeof resp === 'string' ? JSON.parse(resp) : resp;
    eq(values(ds, '00081199').map((r) => first(r, '00081155')).join(), inst.sopUID, 'ReferencedSOPSequence');
    checkRetrieveURL(first(ds, '00081190'), `/studies/${other.studyUID}`, 'response');
  });

  await step('STOW storeInstances into another study: refused', async () => {
    const inst = other.series[0].instances[0];
    let resp;
    try {
      resp = await client.storeInstances({ studyInstanceUID: big.studyUID, datasets: [toArrayBuffer(inst.bytes)] });
    } catch (err) {
      check(err && err.status === 409, `want HTTP 409, got ${explain(err)}`);
      const ds = JSON.parse(typeof err.response === 'string' ? err.response : Buffer.from(err.response).toString('utf8'));
      const failed = values(ds, '00081198');
      eq(failed.length, 1, 'FailedSOPSequence items');
      eq(first(failed[0], '00081155'), inst.sopUID, 'failed ReferencedSOPInstanceUID');
      eq(first(failed[0], '00081197'), 0xa900, 'FailureReason');
      return;
    }
    throw new StepError(`an instance of study ${other.studyUID} was stored into study ${big.studyUID}: ${describe(resp)}`);
  });

  await step('QIDO searchForStudies: all', async () => {
    const list = await client.searchForStudies();
    check(Array.isArray(list), `response is ${describe(list)}`);
    eq(list.length, studies.length, 'number of studies');
    for (const st of studies) {
      const ds = list.find((d) => first(d, '0020000D') === st.studyUID);
      check(ds, `study ${st.studyUID} not found`);
      checkStudyResult(ds, st);
    }
    return `${list.length} studies`;
  });

  await step('QIDO searchForStudies: AccessionNumber', async () => {
    const list = await client.searchForStudies({ queryParams: { AccessionNumber: other.accession } });
    eq(list.length, 1, 'number of studies');
    checkStudyResult(list[0], other);
    const none = await client.searchForStudies({ queryParams: { AccessionNumber: 'NO-SUCH-URN' } });
    eq(none.length, 0, 'studies for an unknown AccessionNumber');
  });

  await step('QIDO searchForStudies: StudyInstanceUID, one and a list', async () => {
    // OHIF looks a study up by its UID when it opens the viewer.
    const one = await client.searchForStudies({ queryParams: { StudyInstanceUID: big.studyUID } });
    eq(one.length, 1, 'number of studies for one UID');
    checkStudyResult(one[0], big);
    const both = await client.searchForStudies({ queryParams: { StudyInstanceUID: studies.map((st) => st.studyUID).join(',') } });
    sameSet(both.map((d) => first(d, '0020000D')), studies.map((st) => st.studyUID), 'studies for a list of UIDs');
  });

  await step("QIDO searchForStudies: OHIF's study list query", async () => {
    // What OHIF's study list asks (limit, offset, fuzzymatching, includefield).
    const list = await client.searchForStudies({
      queryParams: { limit: 101, offset: 0, fuzzymatching: false, includefield: '00081030,00080060', PatientName: 'E2E*' },
    });
    eq(list.length, studies.length, 'number of studies');
    for (const st of studies) checkStudyResult(list.find((d) => first(d, '0020000D') === st.studyUID) || {}, st);
  });

  await step('QIDO searchForSeries: in a study', async () => {
    for (const st of studies) {
      const list = await client.searchForSeries({ studyInstanceUID: st.studyUID });
      eq(list.length, st.series.length, `study ${st.studyUID}: number of series`);
      for (const se of st.series) {
        const ds = list.find((d) => first(d, '0020000E') === se.seriesUID);
        check(ds, `series ${se.seriesUID} not found`);
        const what = `series ${se.seriesUID}`;
        eq(first(ds, '00080060'), se.modality, `${what}: Modality`);
        eq(Number(first(ds, '00200011')), se.number, `${what}: SeriesNumber`);
        present(ds, '00201209', what);
        eq(Number(first(ds, '00201209')), se.instances.length, `${what}: NumberOfSeriesRelatedInstances (00201209)`);
        checkRetrieveURL(first(ds, '00081190'), `/studies/${st.studyUID}/series/${se.seriesUID}`, what);
      }
    }
  });

  await step('QIDO searchForInstances: in a study', async () => {
    const list = await client.searchForInstances({ studyInstanceUID: big.studyUID });
    const want = big.series.flatMap((se) => se.instances);
    eq(list.length, want.length, 'number of instances');
    sameSet(list.map((d) => first(d, '00080018')), want.map((i) => i.sopUID), 'SOPInstanceUIDs');
    for (const ds of list) {
      const inst = bySOP.get(first(ds, '00080018'));
      // OHIF needs the series UID of each instance to retrieve it.
      eq(first(ds, '0020000E'), inst.series.seriesUID, `instance ${inst.sopUID}: SeriesInstanceUID`);
      eq(first(ds, '00080016'), inst.sopClassUID, `instance ${inst.sopUID}: SOPClassUID`);
      eq(Number(first(ds, '00280010')), inst.rows, `instance ${inst.sopUID}: Rows`);
      eq(Number(first(ds, '00280011')), inst.columns, `instance ${inst.sopUID}: Columns`);
      checkRetrieveURL(first(ds, '00081190'), `/studies/${big.studyUID}/series/${inst.series.seriesUID}/instances/${inst.sopUID}`, `instance ${inst.sopUID}`);
    }
  });

  await step('QIDO searchForInstances: in a series', async () => {
    for (const se of [bigSeries, multiFrame.series]) {
      const list = await client.searchForInstances({ studyInstanceUID: se.instances[0].study.studyUID, seriesInstanceUID: se.seriesUID });
      eq(list.length, se.instances.length, `series ${se.seriesUID}: number of instances`);
      sameSet(list.map((d) => first(d, '00080018')), se.instances.map((i) => i.sopUID), `series ${se.seriesUID}: SOPInstanceUIDs`);
      const ds = list.find((d) => first(d, '00080018') === multiFrame.sopUID);
      if (ds) eq(Number(first(ds, '00280008')), multiFrame.frames, `instance ${multiFrame.sopUID}: NumberOfFrames (00280008)`);
    }
  });

  let studyMeta = null;
  await step('WADO retrieveStudyMetadata', async () => {
    for (const st of studies) {
      const list = await client.retrieveStudyMetadata({ studyInstanceUID: st.studyUID });
      checkInstanceMetadata(list, st.series.flatMap((se) => se.instances), `study ${st.studyUID}`);
      if (st === big) studyMeta = list;
    }
  });

  await step('WADO retrieveSeriesMetadata', async () => {
    const list = await client.retrieveSeriesMetadata({ studyInstanceUID: big.studyUID, seriesInstanceUID: bigSeries.seriesUID });
    checkInstanceMetadata(list, bigSeries.instances, `series ${bigSeries.seriesUID}`);
  });

  await step('WADO retrieveInstanceMetadata', async () => {
    for (const inst of [bigSeries.instances[0], multiFrame]) {
      const list = await client.retrieveInstanceMetadata(uids(inst));
      checkInstanceMetadata(list, [inst], `instance ${inst.sopUID}`);
    }
  });

  await step('WADO retrieveBulkData: PixelData BulkDataURI', async () => {
    check(studyMeta, 'no study metadata (retrieveStudyMetadata failed)');
    const inst = bigSeries.instances[0];
    const parts = await client.retrieveBulkData({ BulkDataURI: pixelBulkURI(studyMeta, inst) });
    eq(parts.length, 1, 'number of parts');
    sameBytes(parts[0], inst.pixels, 'PixelData');
    // OHIF's singlepart option fetches bulk data without multipart.
    const single = newClient({ Authorization: `Bearer ${token}` }, { singlepart: 'bulkdata,video' });
    const one = await single.retrieveBulkData({ BulkDataURI: pixelBulkURI(studyMeta, inst) });
    eq(one.length, 1, 'singlepart: number of parts');
    sameBytes(one[0], inst.pixels, 'singlepart PixelData');
  });

  await step('WADO retrieveInstanceFrames', async () => {
    let n = 0;
    for (const inst of instances) {
      // Frame 1 alone, as OHIF asks; then every frame in one request.
      const lists = [[1]];
      if (inst.frames > 1) lists.push(range1(inst.frames), [inst.frames]);
      for (const frameNumbers of lists) {
        const what = `${inst.sopUID} frames ${frameNumbers}`;
        const frames = await client.retrieveInstanceFrames(Object.assign(uids(inst), { frameNumbers }));
        check(Array.isArray(frames), `${what}: response is ${describe(frames)}`);
        eq(frames.length, frameNumbers.length, `${what}: number of parts`);
        frames.forEach((f, i) => {
          eq(f.byteLength, inst.rows * inst.columns * 2, `${what}: frame ${frameNumbers[i]} length (Rows*Columns*2)`);
          sameBytes(f, frameBytes(inst, frameNumbers[i]), `${what}: frame ${frameNumbers[i]}`);
          eq(f.contentType, 'application/octet-stream', `${what}: part Content-Type`);
        });
        n += frames.length;
      }
    }
    return `${n} frames of ${instances.length} instances`;
  });

  await step('WADO retrieveInstanceFrames: octet-stream, transfer-syntax=*', async () => {
    // The media range OHIF's image loader accepts, as dicomweb-client
    // writes it (type quoted).
    const inst = other.series[0].instances[0];
    const frames = await client.retrieveInstanceFrames(Object.assign(uids(inst), {
      frameNumbers: [1],
      mediaTypes: [{ mediaType: 'application/octet-stream', transferSyntaxUID: '*' }],
    }));
    eq(frames.length, 1, 'number of frames');
    sameBytes(frames[0], frameBytes(inst, 1), 'frame 1');
  });

  await step("WADO frames with the Accept header of OHIF's image loader", async () => {
    // OHIF fetches pixels with Cornerstone's WADO-RS image loader, not
    // retrieveInstanceFrames, and that loader sends this Accept header,
    // with the type parameter unquoted. The request goes through
    // dicomweb-client's own request and multipart decoding.
    const inst = multiFrame;
    const url = `${baseURL}/studies/${inst.study.studyUID}/series/${inst.series.seriesUID}/instances/${inst.sopUID}/frames/2`;
    const parts = await client._httpGet(url, { Accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' }, { responseType: 'arraybuffer' });
    check(Array.isArray(parts), `response is ${describe(parts)}`);
    eq(parts.length, 1, 'number of frames');
    sameBytes(parts[0], frameBytes(inst, 2), 'frame 2');
  });

  await step('WADO retrieveInstance', async () => {
    for (const inst of instances) {
      const part = await client.retrieveInstance(uids(inst));
      sameBytes(part, inst.bytes, `${inst.sopUID}`);
      eq(sha256(part), inst.sha256, `${inst.sopUID}: SHA-256`);
    }
    return `${instances.length} instances`;
  });

  await step('WADO retrieveSeries', async () => {
    const parts = await client.retrieveSeries({ studyInstanceUID: big.studyUID, seriesInstanceUID: bigSeries.seriesUID });
    checkParts(parts, bigSeries.instances, `series ${bigSeries.seriesUID}`);
  });

  await step('WADO retrieveStudy', async () => {
    for (const st of studies) {
      const parts = await client.retrieveStudy({ studyInstanceUID: st.studyUID });
      checkParts(parts, st.series.flatMap((se) => se.instances), `study ${st.studyUID}`);
    }
  });

  await step('no token: 401', async () => {
    const inst = instances[0];
    const anon = newClient({});
    await expect401(() => anon.searchForStudies(), 'searchForStudies without a token');
    await expect401(() => anon.retrieveStudyMetadata({ studyInstanceUID: inst.study.studyUID }), 'retrieveStudyMetadata without a token');
    await expect401(() => anon.retrieveInstance(uids(inst)), 'retrieveInstance without a token');
    await expect401(() => anon.retrieveInstanceFrames(Object.assign(uids(inst), { frameNumbers: [1] })), 'retrieveInstanceFrames without a token');
    await expect401(() => anon.storeInstances({ datasets: [toArrayBuffer(inst.bytes)] }), 'storeInstances without a token');
    const wrong = newClient({ Authorization: `Bearer not-${token}` });
    await expect401(() => wrong.retrieveInstance(uids(inst)), 'retrieveInstance with a wrong token');
  });

  // /rendered comes last: it is the newest part of the server.
  await step('WADO retrieveInstanceRendered: image/jpeg', async () => {
    const inst = instances[0];
    const res = await client.retrieveInstanceRendered(Object.assign(uids(inst), { mediaTypes: [{ mediaType: 'image/jpeg' }] }));
    check(Array.isArray(res) && res.length === 1, `response is ${describe(res)}, want one image`);
    const detail = isJPEG(res[0], inst, 'rendered instance');
    check(/^image\/jpeg\b/.test(header('Content-Type') || ''), `Content-Type ${header('Content-Type')}, want image/jpeg`);
    return detail;
  });

  await step('WADO retrieveInstanceFramesRendered: image/jpeg', async () => {
    // Frame 1 of a single-frame image, and the last frame of a multi-frame one.
    const details = [];
    for (const [inst, frame] of [[other.series[0].instances[0], 1], [multiFrame, multiFrame.frames]]) {
      const what = `${inst.sopUID} frame ${frame} rendered`;
      const res = await client.retrieveInstanceFramesRendered(Object.assign(uids(inst), { frameNumbers: [frame], mediaTypes: [{ mediaType: 'image/jpeg' }] }));
      check(Array.isArray(res) && res.length === 1, `${what}: response is ${describe(res)}, want one image`);
      details.push(isJPEG(res[0], inst, what));
      check(/^image\/jpeg\b/.test(header('Content-Type') || ''), `${what}: Content-Type ${header('Content-Type')}, want image/jpeg`);
    }
    return details.join('; ');
  });

  results.complete = true;
}

main()
  .catch((err) => {
    results.error = explain(err);
    console.error(`client.js: ${results.error}`);
  })
  .finally(() => {
    fs.writeFileSync(resultsPath, JSON.stringify(results, null, 2));
    const failed = results.steps.filter((s) => !s.ok).length;
    console.error(`client.js: ${results.steps.length - failed} of ${results.steps.length} steps passed${results.complete ? '' : ' (stopped early)'}`);
    // Exit now: keep-alive sockets must not hold the process open.
    process.exit(results.complete && failed === 0 ? 0 : 1);
  });
