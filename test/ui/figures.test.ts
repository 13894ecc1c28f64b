// The figures a write-up takes from the page (src/ui/figures.ts): well-formed SVG with the caption in it,
// marks where the numbers put them, and the numbers themselves beside it.
import { describe, expect, it } from 'vitest';
import { barsFigure, lineFigure, scatterFigure, tokensFigure } from '../../src/ui/figures.ts';
import { fitSentence } from '../../src/ui/scaling-figures.ts';

/** every element closed in order (a small XML well-formedness check: no DOM parser in Node) */
function expectWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)([^>]*?)(\/?)>/g)) {
    const names = [...m[3]!.matchAll(/\s([\w:-]+)=/g)].map((a) => a[1]);
    expect(new Set(names).size, `an attribute given twice in <${m[2]}${m[3]}>`).toBe(names.length);
    if (m[4]) continue;
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else stack.push(m[2]!);
  }
  expect(stack).toEqual([]);
  expect(svg).not.toMatch(/NaN|undefined|Infinity/);
}

describe('figures', () => {
  it('a line figure: its caption wrapped under it, a polyline per series, the numbers as CSV', () => {
    const f = lineFigure('loss', 'Loss & L0 of "a" run <tiny>, step by step, with a caption long enough to wrap onto a second line under the plot area.', {
      xLabel: 'step', yLabel: 'loss', y2Label: 'L0',
      series: [{ label: 'loss', color: '#000', x: [0, 1, 2], y: [3, 2, 1] }, { label: 'L0', color: '#f00', right: true, x: [0, 1, 2], y: [30, 20, NaN] }],
    });
    expectWellFormed(f.svg);
    expect(f.svg).toContain('Loss &amp; L0 of &quot;a&quot; run &lt;tiny&gt;');
    expect(f.svg.match(/<polyline/g)).toHaveLength(2);
    expect((f.svg.match(/<text x="12" y="\d+"/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(f.data).toEqual({ csv: 'step,loss,L0\n0,3,30\n1,2,20\n2,1,NaN\n' });
    // the loss falls from left to right: the polyline's y pixels rise
    const ys = [...f.svg.matchAll(/points="([^"]+)"/g)][0]![1]!.split(' ').map((p) => Number(p.split(',')[1]));
    expect(ys[0]).toBeLessThan(ys[2]!);
  });

  it('a histogram: one bar per bin, heights by count', () => {
    const f = barsFigure('density', 'density', { edges: [-10, -9, -8], counts: [5, 0, 10], xLabel: 'log10 density', yLabel: 'features' });
    expectWellFormed(f.svg);
    const heights = [...f.svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="#/g)].map((m) => Number(m[1]));
    expect(heights).toHaveLength(3);
    expect(heights[2]).toBeCloseTo(2 * heights[0]!, 0);
    expect(heights[1]).toBe(0);
    expect('csv' in f.data && f.data.csv.split('\n')[3]).toBe('-8,-7,10');
  });

  it('a map and a token figure', () => {
    const m = scatterFigure('map', 'map', { xy: Float32Array.from([0, 0, 1, 1, 0.5, 0.2]), value: Float32Array.from([-3, -1, -10]), valueLabel: 'log10 density' });
    expectWellFormed(m.svg);
    expect(m.svg.match(/<circle/g)).toHaveLength(3);
    const t = tokensFigure('steer', 'steering', [{ label: 'clean', tokens: ['<a>', ' b', '\n'], acts: [0, 2, 1], from: 1 }], { x: 1 });
    expectWellFormed(t.svg);
    expect(t.svg).toContain('&lt;a&gt;');
    expect(t.svg).toContain('rgba(230, 57, 70, 1.00)'); // the strongest token fully shaded
    expect(t.data).toEqual({ json: { x: 1 } });
  });
});

describe('the scaling fit in words', () => {
  it('signs the floor and gives its standard error when there is one', () => {
    const fit = { a: 19.46, alpha: 0.152, lInf: -0.387, se: { a: 131.9, alpha: 0.444, lInf: 2.06 }, rms: 0.01, points: 6 };
    expect(fitSentence(fit)).toBe('L = 19.5·C^(−0.152 ± 0.444) − 0.387 (± 2.1) (6 points)');
    expect(fitSentence({ ...fit, lInf: 0.06, se: null, points: 3 })).toBe('L = 19.5·C^(−0.152) + 0.0600 (3 points, too few for standard errors)');
  });
});
