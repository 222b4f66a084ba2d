// Number, time and text formatting shared by every page, and the line diff of revisions.
// proto3 JSON writes int64 as strings: every helper takes either.

export const int = (n) => Number(n ?? 0).toLocaleString('en-US');

export const pct = (x, digits = 2) => `${(Number(x ?? 0) * 100).toFixed(digits)}%`;

/** A difference of two rates in percentage points, signed. */
export const pp = (x, digits = 2) => {
  const v = Number(x ?? 0) * 100;
  return `${v >= 0 ? '+' : ''}${v.toFixed(digits)} pp`;
};

export const signedPct = (x, digits = 1) => {
  const v = Number(x ?? 0) * 100;
  return `${v >= 0 ? '+' : ''}${v.toFixed(digits)}%`;
};

export const num = (x, digits = 4) => Number(x ?? 0).toFixed(digits);

export const pvalue = (p) => {
  const v = Number(p ?? 0);
  return v !== 0 && v < 0.0001 ? v.toExponential(2) : v.toFixed(4);
};

export const time = (ts) => (ts ? new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

export const clock = (date) => date.toISOString().substring(11, 19);

/** Pretty JSON of a definition_json string, keys in the order the server wrote them. */
export function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (e) {
    return text || '';
  }
}

/** Line diff (longest common subsequence): [{op: ' ' | '+' | '-', line}]. */
export function lineDiff(before, after) {
  const a = before ? before.split('\n') : [];
  const b = after ? after.split('\n') : [];
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', line: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', line: a[i++] });
    } else {
      out.push({ op: '+', line: b[j++] });
    }
  }
  while (i < n) out.push({ op: '-', line: a[i++] });
  while (j < m) out.push({ op: '+', line: b[j++] });
  return out;
}
