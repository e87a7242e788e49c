#!/usr/bin/env node
// Thin launcher: checks the runtime, then runs the compiled CLI from dist/.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `clusterset-dns needs Node.js >= 22, this is ${process.version}. ` +
      'Run it through npm ("npm start", "npx clusterset-dns ..."), which uses the Node 24 pinned in node_modules.\n',
  );
  process.exit(1);
}
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    process.stderr.write('clusterset-dns: dist/ is missing; run "npm install" (it builds) or "npm run build"\n');
    process.exit(1);
  }
  throw err;
}
const code = await cli.main(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr });
// Exit explicitly: a finished command must not linger on an idle handle (stdout and stderr are synchronous here).
process.exit(code);
