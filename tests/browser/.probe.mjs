import { Run, axe, apiLogin, sleep } from './common.mjs';
const base = process.argv[2];
const run = await new Run(base).launch();
for (const lang of ['pl', 'en']) {
  const anon = await run.context('anon-' + lang, { bypassCSP: true, colorScheme: 'dark' });
  const op = await run.context('op-' + lang, { bypassCSP: true, colorScheme: 'dark' });
  await apiLogin(op, base, 'test-admin-password-1');
  const pages = [[anon, '/'], [anon, '/sesje/1'], [anon, '/sesje/2'], [anon, '/archiwum'], [anon, '/archiwum?q=uchwala'], [anon, '/logowanie'], [op, '/konsola'], [op, '/konsola/sesje/2'], [op, '/konsola/sesje/1']];
  for (const [ctx, path] of pages) {
    const p = await ctx.newPage();
    await p.goto(base + path + (lang === 'en' ? (path.includes('?') ? '&' : '?') + 'lang=en' : ''));
    await sleep(1500);
    const v = await axe(p);
    console.log(lang, path, JSON.stringify(v, null, 1));
    await p.close();
  }
}
console.log('third', run.thirdParty);
await run.close();
