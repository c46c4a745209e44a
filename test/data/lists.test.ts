import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { DelimitedParser, parseDelimited, type DelimitedRecord } from '../../src/data/csv.js';
import { detectListFormat, readUrlList, type ListRow } from '../../src/data/lists.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';

const CSV = { delimiter: ',', quoting: true };

test('csv: RFC 4180 quoting, escaped quotes, embedded newlines, CRLF, empty fields', () => {
  const text = 'a,b,c\r\n"x, y","say ""hi""",\r\n\r\n"multi\nline",2,"3"\nlast,,\n';
  assert.deepEqual(parseDelimited(text, CSV), [
    { fields: ['a', 'b', 'c'], line: 1 },
    { fields: ['x, y', 'say "hi"', ''], line: 2 },
    { fields: ['multi\nline', '2', '3'], line: 4 },
    { fields: ['last', '', ''], line: 6 },
  ]);
  // No trailing newline, a lone quoted empty field is a record.
  assert.deepEqual(parseDelimited('p,q\n""', CSV), [{ fields: ['p', 'q'], line: 1 }, { fields: [''], line: 2 }]);
});

test('csv: the same records whatever the chunking (quote pairs and CRLF split across chunks)', () => {
  const text = 'url,caption\r\n"http://a/1.jpg","he said ""no"""\r\nhttp://b/2.jpg,"two\r\nlines"\r\nhttp://c/3.jpg,plain\r\n';
  const whole = parseDelimited(text, CSV);
  assert.equal(whole.length, 4);
  for (let cut = 1; cut < text.length; cut++) {
    for (const cut2 of [cut + 1, cut + 3]) {
      const p = new DelimitedParser(CSV);
      const got: DelimitedRecord[] = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut, cut2)), ...p.push(text.slice(cut2)), ...p.end()];
      assert.deepEqual(got, whole, `cut at ${cut}/${cut2}`);
    }
  }
});

test('csv: malformed records become errors and parsing resumes on the next line', () => {
  const recs = parseDelimited('a,b\n"bad"x,1\nok,2\n"open,3\n', CSV);
  assert.equal(recs[0].fields?.join('|'), 'a|b');
  assert.match(recs[1].error!, /after closing quote/);
  assert.equal(recs[1].line, 2);
  assert.deepEqual(recs[2], { fields: ['ok', '2'], line: 3 });
  assert.match(recs[3].error!, /unterminated/);
  // TSV: quotes are literal.
  assert.deepEqual(parseDelimited('u\tc\n"x\ty"\n', { delimiter: '\t', quoting: false }), [
    { fields: ['u', 'c'], line: 1 }, { fields: ['"x', 'y"'], line: 2 },
  ]);
});

async function rowsOf(path: string, opts: Parameters<typeof readUrlList>[1]): Promise<ListRow[]> {
  const out: ListRow[] = [];
  for await (const r of readUrlList(path, opts)) out.push(r);
  return out;
}

test('lists: CSV and TSV rows keep their index; bad rows carry a reason; columns are chosen by name', async () => {
  const dir = tempDir();
  const csv = join(dir, 'l.csv');
  writeFileSync(csv, '\ufeffid,Image Url,raw_caption,long\n1,http://x/a.jpg,a cat,"a cat, sitting"\n2,,no url,\n3,http://x/b.jpg,"b",\n4,http://x/c.jpg\n5,http://x/d.jpg,"d ""quoted""",long d\n');
  const rows = await rowsOf(csv, { urlCol: 'Image Url', captionCols: ['raw_caption', 'long'] });
  assert.deepEqual(rows.map((r) => r.index), [0, 1, 2, 3, 4]);
  assert.deepEqual(rows[0], { index: 0, url: 'http://x/a.jpg', captions: { raw_caption: 'a cat', long: 'a cat, sitting' }, line: 2 });
  assert.match(rows[1].error!, /line 3: empty "Image Url"/);
  assert.deepEqual(rows[2].captions, { raw_caption: 'b' });
  assert.match(rows[3].error!, /expected 4 fields, found 2/);
  assert.deepEqual(rows[4].captions, { raw_caption: 'd "quoted"', long: 'long d' });
  await assert.rejects(rowsOf(csv, { urlCol: 'url', captionCols: [] }), (e: unknown) => e instanceof SailError && /column "url" not found.*"Image Url"/.test(e.message) && e.message.startsWith(csv));

  const tsv = join(dir, 'l.tsv');
  writeFileSync(tsv, 'url\tcaption\nhttp://x/1.jpg\tone\n\nhttp://x/2.jpg\ttwo "2"\n');
  assert.deepEqual((await rowsOf(tsv, { urlCol: 'url', captionCols: ['caption'] })).map((r) => [r.index, r.url, r.captions.caption]),
    [[0, 'http://x/1.jpg', 'one'], [1, 'http://x/2.jpg', 'two "2"']]);
});

test('lists: JSONL with bad JSON, non-objects and missing urls', async () => {
  const dir = tempDir();
  const p = join(dir, 'l.jsonl');
  writeFileSync(p, '{"url":"http://x/1.jpg","caption":"one","n":3}\n{bad json\n\n[1,2]\n{"caption":"no url"}\r\n{"url":"http://x/2.jpg","caption":7,"alt":["x"]}');
  const rows = await rowsOf(p, { urlCol: 'url', captionCols: ['caption', 'alt'] });
  assert.equal(rows.length, 5);
  assert.deepEqual(rows[0], { index: 0, url: 'http://x/1.jpg', captions: { caption: 'one' }, line: 1 });
  assert.match(rows[1].error!, /^line 2: bad JSON/);
  assert.match(rows[2].error!, /^line 4: not a JSON object/);
  assert.match(rows[3].error!, /^line 5: missing or non-string "url"/);
  assert.deepEqual(rows[4], { index: 4, url: 'http://x/2.jpg', captions: { caption: '7' }, line: 6 });
});

test('lists: Parquet across several row groups, with nulls', async () => {
  const dir = tempDir();
  const p = join(dir, 'l.parquet');
  const n = 25;
  const urls = Array.from({ length: n }, (_, i) => (i === 7 ? null : `http://x/${i}.jpg`));
  const caps = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : `caption ${i}`));
  parquetWriteFile({ filename: p, columnData: [{ name: 'url', data: urls, type: 'STRING' }, { name: 'caption', data: caps, type: 'STRING' }, { name: 'w', data: urls.map((_, i) => i), type: 'INT32' }], rowGroupSize: 10 });
  assert.equal((await parquetMetadataAsync(await asyncBufferFromFile(p))).row_groups.length, 3);
  const rows = await rowsOf(p, { urlCol: 'url', captionCols: ['caption'] });
  assert.equal(rows.length, n);
  rows.forEach((r, i) => {
    assert.equal(r.index, i);
    if (i === 7) assert.match(r.error!, /missing or non-string "url"/);
    else assert.equal(r.url, `http://x/${i}.jpg`);
    assert.deepEqual(r.captions, i % 5 === 0 || i === 7 ? {} : { caption: `caption ${i}` });
  });
  await assert.rejects(rowsOf(p, { urlCol: 'url', captionCols: ['nope'] }), /column "nope" not found/);
  const notPq = join(dir, 'fake.parquet');
  writeFileSync(notPq, 'hello');
  await assert.rejects(rowsOf(notPq, { urlCol: 'url', captionCols: [] }), /not a readable Parquet file/);
  assert.equal(detectListFormat('a/b.ndjson'), 'jsonl');
  assert.throws(() => detectListFormat('a.xlsx'), SailError);
});
