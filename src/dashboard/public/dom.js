// A tiny element builder: every text goes in through textContent, never as HTML.

/**
 * h('td', { class: 'x', data: { id: 'a' }, attrs: { 'aria-label': 'y' }, on: { click } }, child, 'text', ...)
 * Children may be nodes, strings, numbers, arrays, or null/undefined/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'data') for (const [dk, dv] of Object.entries(v)) { if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv); }
    else if (k === 'attrs') for (const [ak, av] of Object.entries(v)) { if (av !== undefined && av !== null && av !== false) el.setAttribute(ak, av === true ? '' : String(av)); }
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces a table body's rows; `empty` is the text of the single row shown when there are none. */
export function setRows(tbody, rows, empty) {
  if (rows.length === 0) {
    const cols = tbody.closest('table')?.querySelectorAll('thead th').length ?? 1;
    tbody.replaceChildren(h('tr', { class: 'empty' }, h('td', { attrs: { colspan: cols }, text: empty })));
  } else {
    tbody.replaceChildren(...rows);
  }
}

export function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

/** Fills a <select> with options, keeping the current value when it is still offered. */
export function setOptions(select, options, preferred) {
  const want = preferred ?? select.value;
  const same = select.options.length === options.length && options.every((o, i) => select.options[i].value === o.value && select.options[i].textContent === o.label);
  if (!same) select.replaceChildren(...options.map((o) => h('option', { value: o.value, text: o.label })));
  if (options.some((o) => o.value === want)) select.value = want;
  else if (options.length > 0 && !options.some((o) => o.value === select.value)) select.value = options[0].value;
}
