import { Run, axe } from './common.mjs';
const run = await new Run('http://127.0.0.1:18181').launch();
const c = await run.context('x', { bypassCSP: true });
const p = await c.newPage();
await p.goto('http://127.0.0.1:18181/');
await p.evaluate(() => { const i = document.createElement('img'); i.src = 'data:,'; document.body.appendChild(i); const b = document.createElement('button'); document.body.appendChild(b); });
console.log(JSON.stringify((await axe(p)).map(v => v.id)));
await run.close();
