/** A small YAML writer for `-o yaml` (plain data from JSON: objects, arrays, strings, numbers, booleans, null). */

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  // Plain only when it cannot be read back as another type or as YAML syntax.
  if (/^[A-Za-z_/][A-Za-z0-9_./-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s)) return s;
  return JSON.stringify(s);
}

export function toYaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return value
      .map((item) => {
        const inner = toYaml(item, `${indent}  `);
        return item !== null && typeof item === 'object' && !(Array.isArray(item) && item.length === 0) && !(typeof item === 'object' && Object.keys(item).length === 0)
          ? `${indent}- ${inner.trimStart()}`
          : `${indent}- ${inner}`;
      })
      .join('\n');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return entries
      .map(([k, v]) => {
        const complex = v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
        return complex ? `${indent}${scalar(k)}:\n${toYaml(v, `${indent}  `)}` : `${indent}${scalar(k)}: ${toYaml(v, indent)}`;
      })
      .join('\n');
  }
  return scalar(value);
}
