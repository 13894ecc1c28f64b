// The steering figures of docs/MODEL-EXPERIMENTS.md, made by the page's own export: the lab in headless
// Chromium, the SAE folder imported through the SAE panel, each example steered as a sweep in the
// language-model panel, and the figure saved through its SVG and data links into docs/img/.
//   node --import ./bin/register.js scripts/docs/steering-figures.ts SAE_DIR
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openLab, startLab } from '../../test/support/browser.ts';

const EXAMPLES = [
  { name: 'steer-code', feature: 1018, prompt: 'The jury said that the city', mode: 'clamp', sweep: '0 4 9 12 20' },
  { name: 'steer-newline', feature: 1156, prompt: 'The jury said that the city', mode: 'clamp', sweep: '0 8 12 20' },
];

const saeDir = process.argv[2];
if (!saeDir) throw new Error('usage: steering-figures.ts SAE_DIR');
const out = join(import.meta.dirname, '../../docs/img');
const lab = await startLab();
try {
  const page = await openLab(lab);
  await page.locator('[data-testid=import-sae]').setInputFiles(readdirSync(saeDir).filter((f) => /\.(json|safetensors)$/.test(f)).map((f) => join(saeDir, f)));
  const lm = page.locator('sae-lm-panel');
  await lm.locator('[data-testid=lm-sae] option', { hasText: 'SAELens' }).first().waitFor({ state: 'attached' });
  await lm.locator('[data-testid=lm-sae]').selectOption({ index: 1 });
  await lm.locator('[data-testid=lm-status]', { hasText: 'spliced into' }).waitFor({ timeout: 120_000 });
  for (const ex of EXAMPLES) {
    await lm.locator('[data-testid=lm-feature]').fill(String(ex.feature));
    await lm.locator('[data-testid=lm-feature-go]').click();
    await lm.locator(`[data-testid=lm-feature-view][data-feature="${ex.feature}"]`).waitFor({ timeout: 600_000 });
    await lm.locator('[data-testid=lm-prompt]').fill(ex.prompt);
    if (ex.mode === 'clamp') await lm.locator('[data-testid=lm-mode-clamp]').check();
    await lm.locator('[data-testid=lm-sweep]').fill(ex.sweep);
    await lm.locator('[data-testid=lm-sweep-go]').click();
    await lm.locator(`[data-testid=lm-steer-result][data-feature="${ex.feature}"] [data-testid=lm-steered][data-strength="${ex.sweep.split(' ').at(-1)}"]`).waitFor({ timeout: 600_000 });
    for (const link of ['figure-svg', 'figure-data']) {
      const [file] = await Promise.all([page.waitForEvent('download'), lm.locator(`[data-testid=lm-steer-form] ~ sae-figure-export [data-testid=${link}]`).first().click()]);
      const target = join(out, `${ex.name}.${link === 'figure-svg' ? 'svg' : 'json'}`);
      copyFileSync((await file.path())!, target);
      process.stderr.write(`wrote ${target}\n`);
    }
  }
} finally {
  await lab.close();
}
