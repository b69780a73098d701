/** The strict Prometheus text parser of the tests (test/helpers/prom-text.ts) refuses what Prometheus would. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePromText, valueOf } from '../helpers/prom-text.js';

const good = [
  '# HELP a_total A counter with "quotes" and \\\\ and \\n.',
  '# TYPE a_total counter',
  'a_total{code="X",path="a\\"b\\\\c\\nd"} 3',
  'a_total{code="Y"} 1e3',
  '# TYPE h_seconds histogram',
  'h_seconds_bucket{le="0.1"} 1',
  'h_seconds_bucket{le="+Inf"} 2',
  'h_seconds_sum 0.25',
  'h_seconds_count 2',
  '# TYPE g gauge',
  'g -Inf',
  '',
].join('\n');

test('parses a well-formed exposition: escapes, exponents, infinities, histograms', () => {
  const f = parsePromText(good);
  assert.equal(f.get('a_total')?.help, 'A counter with "quotes" and \\ and \n.');
  assert.equal(valueOf(f, 'a_total', { code: 'X', path: 'a"b\\c\nd' }), 3);
  assert.equal(valueOf(f, 'a_total', { code: 'Y' }), 1000);
  assert.equal(valueOf(f, 'h_seconds_count'), 2);
  assert.equal(valueOf(f, 'g'), -Infinity);
});

test('refuses malformed expositions', () => {
  const bad: [string, string][] = [
    ['no final newline', good.slice(0, -1)],
    ['bad metric name', '# TYPE 1a counter\n1a 1\n'],
    ['unquoted label', '# TYPE a gauge\na{x=1} 1\n'],
    ['bad value', '# TYPE a gauge\na 1,5\n'],
    ['bad escape', '# TYPE a gauge\na{x="\\t"} 1\n'],
    ['unknown type', '# TYPE a meter\na 1\n'],
    ['sample outside its family', '# TYPE a gauge\nb 1\n'],
    ['family declared twice', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n'],
    ['negative counter', '# TYPE a counter\na -1\n'],
    ['non-cumulative histogram', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['repeated label', '# TYPE a gauge\na{x="1",x="2"} 1\n'],
    ['trailing garbage', '# TYPE a gauge\na 1 2 3\n'],
  ];
  for (const [what, text] of bad) assert.throws(() => parsePromText(text), Error, what);
});
