/* The Slack console: shows one workspace as Slack would, and forwards every gesture to the
 * console server, which signs it and posts it to the bot as Slack does. No dependencies. */
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = {
  team: localStorage.getItem("console.team") || "", // "" is the dev workspace
  user: localStorage.getItem("console.user") || "U0ALICE",
  view: localStorage.getItem("console.view") || "C0SALES", // a channel id, or "app"
  tab: "home",
  threadTs: null,
  data: null,
  version: -1,
  rendered: {},
  forms: {}, // view_id -> {block_id: {action_id: raw value}}: what the person typed
  workflow: [], // the Workflow Builder panel: [{callback_id, inputs: {name: {value} | {from_step, output}}}]
  wfError: null,
};

/* ------------------------------------------------------------------ server */

async function api(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: state.user, team: state.team, ...body }),
  });
  if (!resp.ok) console.warn("console", path, resp.status);
  return resp.ok ? resp.json() : { ok: false, status: resp.status };
}

async function poll() {
  for (;;) {
    try {
      const wait = state.version < 0 ? 0 : 20;
      const resp = await fetch(`state?user=${state.user}&team=${state.team}&since=${state.version}&wait=${wait}`);
      const data = await resp.json();
      adopt(data);
      if (data.version !== state.version || state.dirty) {
        state.dirty = false;
        state.version = data.version;
        state.data = data;
        render();
      }
    } catch (err) {
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function adopt(data) {
  // Another workspace has other people and channels: the server says whom it showed.
  if (data.user && data.user !== state.user) {
    state.user = data.user;
    localStorage.setItem("console.user", state.user);
    if (state.view === "app" && state.tab === "home") api("home", {});
  }
  const channels = (data.channels || []).filter((c) => !c.is_im);
  const panel = state.view === "app" || state.view === "workflows"; // not a channel
  if (!panel && channels.length && !channels.some((c) => c.id === state.view)) {
    state.view = channels[0].id;
    localStorage.setItem("console.view", state.view);
  }
}

function switchWorkspace(team) {
  state.team = team;
  localStorage.setItem("console.team", team);
  state.forms = {};
  state.threadTs = null;
  refresh();
}

async function addWorkspace() {
  const name = $("#new-workspace-name").value.trim() || "Globex Sales";
  const resp = await fetch("workspaces", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
  if (!resp.ok) return;
  const added = await resp.json();
  localStorage.setItem("console.team", added.team);
  // Install the app there as an admin would: the bot's /slack/install, then Slack's
  // consent page (played by this console), then back to the bot's redirect URL.
  location.href = added.install;
}

function refresh() {
  // Ask for a fresh snapshot now (e.g. after switching person), without waiting for news.
  state.version = -1;
  fetch(`state?user=${state.user}&team=${state.team}&since=-1`).then((r) => r.json()).then((data) => {
    adopt(data);
    state.version = data.version;
    state.data = data;
    state.rendered = {};
    render();
  });
}

/* ------------------------------------------------------------------ mrkdwn */

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const unslack = (s) => String(s ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

function person(id) {
  return (state.data?.people || []).find((p) => p.id === id);
}
function channel(id) {
  return (state.data?.channels || []).find((c) => c.id === id);
}
function myTz() {
  return person(state.user)?.tz || "UTC";
}

function ordinal(n) {
  const s = ["th", "st", "nd", "rd"], v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

function formatDate(epoch, format, tz) {
  const d = new Date(epoch * 1000);
  const parts = (opts) => new Intl.DateTimeFormat("en-US", { timeZone: tz, ...opts }).format(d);
  const dayKey = (date) => new Intl.DateTimeFormat("en-CA", { timeZone: tz }).format(date);
  const day = Number(parts({ day: "numeric" }));
  const month = parts({ month: "long" }), year = parts({ year: "numeric" });
  const pretty = (fallback) => {
    const today = dayKey(new Date());
    const target = dayKey(d);
    const shift = (n) => dayKey(new Date(Date.now() + n * 86400000));
    if (target === today) return "today";
    if (target === shift(-1)) return "yesterday";
    if (target === shift(1)) return "tomorrow";
    return fallback;
  };
  const values = {
    date_num: dayKey(d),
    date: `${month} ${ordinal(day)}, ${year}`,
    date_short: parts({ month: "short", day: "numeric", year: "numeric" }),
    date_long: `${parts({ weekday: "long" })}, ${month} ${ordinal(day)}, ${year}`,
    time: parts({ hour: "numeric", minute: "2-digit" }),
    time_secs: parts({ hour: "numeric", minute: "2-digit", second: "2-digit" }),
  };
  values.date_pretty = pretty(values.date);
  values.date_short_pretty = pretty(values.date_short);
  values.date_long_pretty = pretty(values.date_long);
  const diff = Math.round((Date.now() / 1000 - epoch) / 60);
  values.ago = diff >= 0 ? (diff < 60 ? `${diff} minutes ago` : `${Math.round(diff / 60)} hours ago`) : `in ${Math.round(-diff / 60)} hours`;
  return format.replace(/\{(\w+)\}/g, (m, key) => values[key] ?? m);
}

function special(token) {
  // One <...> sequence of Slack's markup, as HTML.
  const [target, label] = token.split(/\|(.*)/s);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const who = person(id);
    return `<span class="mention">@${esc(label || who?.real_name || id)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return `<span class="mention">#${esc(label || channel(id)?.name || id)}</span>`;
  }
  if (target.startsWith("!date^")) {
    const [, epoch, format, link] = target.split("^");
    const text = esc(formatDate(Number(epoch), format || "{date_short}", myTz()));
    return link && /^https?:/.test(link) ? `<a href="${esc(link)}" target="_blank" rel="noopener">${text}</a>` : `<time title="${esc(label || "")}">${text}</time>`;
  }
  if (target.startsWith("!subteam^")) return `<span class="mention">${esc(label || "@team")}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${esc(target.slice(1))}</span>`;
  if (/^(https?:|mailto:)/.test(target)) {
    const text = label ? unslack(label) : target.replace(/^mailto:/, "");
    return `<a href="${esc(target)}" target="_blank" rel="noopener">${esc(text)}</a>`;
  }
  return esc(unslack(label || target));
}

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", warning: "⚠️", x: "❌", alarm_clock: "⏰",
  bell: "🔔", calendar: "📅", date: "📅", spiral_calendar_pad: "🗓️", telephone_receiver: "📞",
  phone: "☎️", memo: "📝", pencil: "✏️", clipboard: "📋", handshake: "🤝", link: "🔗",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", zzz: "💤", sleeping: "😴", tada: "🎉",
  wave: "👋", rocket: "🚀", information_source: "ℹ️", bulb: "💡", mag: "🔍", inbox_tray: "📥",
  outbox_tray: "📤", arrow_right: "➡️", repeat: "🔁", red_circle: "🔴", large_blue_circle: "🔵",
  white_circle: "⚪", black_circle: "⚫", exclamation: "❗", question: "❓", clock9: "🕘",
  busts_in_silhouette: "👥", bust_in_silhouette: "👤", office: "🏢", moneybag: "💰", dart: "🎯",
  thumbsup: "👍", "+1": "👍", eyes: "👀", fire: "🔥", star: "⭐", no_entry: "⛔", lock: "🔒",
  ballot_box_with_check: "☑️", wastebasket: "🗑️", rotating_light: "🚨", large_green_circle: "🟢",
  electric_plug: "🔌", unlock: "🔓", key: "🔑", briefcase: "💼",
};
const emoji = (s) => s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);

function mrkdwn(text) {
  const holders = [];
  const hold = (html) => `\u0000${holders.push(html) - 1}\u0000`;
  let s = String(text ?? "");
  s = s.replace(/```([\s\S]*?)```/g, (m, code) => hold(`<pre>${esc(unslack(code))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (m, code) => hold(`<code>${esc(unslack(code))}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (m, token) => hold(special(token)));
  s = esc(unslack(s));
  // Slack's emphasis: the markers hug the text and stand apart from word characters.
  s = s.replace(/(^|[^\w*])\*(?! )([^*\n]+?)\*(?=$|[^\w*])/g, "$1<b>$2</b>");
  s = s.replace(/(^|[^\w_])_(?! )([^_\n]+?)_(?=$|[^\w_])/g, "$1<i>$2</i>");
  s = s.replace(/(^|[^\w~])~(?! )([^~\n]+?)~(?=$|[^\w~])/g, "$1<s>$2</s>");
  s = s.split("\n").map((line) => line.startsWith("&gt; ") ? `<blockquote>${line.slice(5)}</blockquote>` : line).join("\n");
  s = emoji(s).replace(/\n/g, "<br>");
  return s.replace(/\u0000(\d+)\u0000/g, (m, i) => holders[Number(i)]);
}

function autolink(text) {
  // A person's own message: what they typed, with bare links made clickable (as Slack does).
  return mrkdwn(String(text ?? "").replace(/(^|[\s(])(https?:\/\/[^\s<>|]+?)(?=[.,;:!?)]*(\s|$))/g, "$1<$2>"));
}

function textObj(obj) {
  if (!obj) return "";
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  const plain = esc(obj.text).replace(/\n/g, "<br>");
  return obj.emoji === false ? plain : emoji(plain);
}

/* ------------------------------------------------------------------ blocks */

function h(tag, attrs = {}, html = "") {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  if (html) el.innerHTML = html;
  return el;
}

function optionsOf(el) {
  const flat = [...(el.options || [])];
  for (const g of el.option_groups || []) flat.push(...(g.options || []));
  return flat;
}

function epochToLocalInput(epoch, tz) {
  if (epoch === undefined || epoch === null) return "";
  const d = new Date(epoch * 1000);
  const f = (o) => new Intl.DateTimeFormat("en-CA", { timeZone: tz, hourCycle: "h23", ...o }).format(d);
  return `${f({ year: "numeric", month: "2-digit", day: "2-digit" })}T${f({ hour: "2-digit", minute: "2-digit" })}`;
}

/* ctx: {surface: "message"|"modal"|"home", view_id, channel, message_ts, ephemeral, errors} */
function renderBlocks(blocks, ctx) {
  const wrap = h("div", { class: "blocks" });
  for (const block of blocks || []) {
    const el = renderBlock(block, ctx);
    if (el) wrap.appendChild(el);
  }
  return wrap;
}

function renderBlock(block, ctx) {
  const box = h("div", { class: `block block-${block.type}`, dataset: { blockId: block.block_id || "" } });
  switch (block.type) {
    case "section": {
      const row = h("div", { class: "section-row" });
      const body = h("div", { class: "section-body" });
      if (block.text) body.appendChild(h("div", { class: "section-text" }, textObj(block.text)));
      if (block.fields) {
        const grid = h("div", { class: "fields" });
        for (const f of block.fields) grid.appendChild(h("div", { class: "field" }, textObj(f)));
        body.appendChild(grid);
      }
      row.appendChild(body);
      if (block.accessory) row.appendChild(renderElement(block.accessory, block, ctx, "accessory"));
      box.appendChild(row);
      break;
    }
    case "header":
      box.appendChild(h("h3", {}, textObj(block.text)));
      break;
    case "divider":
      box.appendChild(h("hr"));
      break;
    case "context":
      for (const el of block.elements || []) {
        if (el.type === "image") box.appendChild(h("img", { src: el.image_url, alt: el.alt_text || "", class: "context-img" }));
        else box.appendChild(h("span", { class: "context-el" }, textObj(el)));
      }
      break;
    case "actions": {
      const row = h("div", { class: "actions-row" });
      for (const el of block.elements || []) row.appendChild(renderElement(el, block, ctx, "action"));
      box.appendChild(row);
      break;
    }
    case "image":
      if (block.title) box.appendChild(h("div", { class: "image-title" }, textObj(block.title)));
      box.appendChild(h("img", { src: block.image_url, alt: block.alt_text || "", class: "block-img" }));
      break;
    case "input": {
      const label = h("label", { class: "input-label" }, textObj(block.label));
      if (block.optional) label.appendChild(h("span", { class: "optional" }, " (optional)"));
      box.appendChild(label);
      box.appendChild(renderElement(block.element || {}, block, ctx, "input"));
      const error = (ctx.errors || {})[block.block_id];
      if (error) {
        box.classList.add("has-error");
        box.appendChild(h("div", { class: "input-error", "data-testid": "input-error", role: "alert" }, esc(error)));
      }
      if (block.hint) box.appendChild(h("div", { class: "hint" }, textObj(block.hint)));
      break;
    }
    case "rich_text":
      box.appendChild(h("div", { class: "section-text" }, esc(richText(block))));
      break;
    case "markdown":
      box.appendChild(h("div", { class: "section-text" }, mrkdwn(block.text)));
      break;
    default:
      box.appendChild(h("div", { class: "unsupported" }, `[${esc(block.type)} block]`));
  }
  return box;
}

function richText(block) {
  const out = [];
  const walk = (node) => {
    if (!node) return;
    if (typeof node.text === "string") out.push(node.text);
    for (const child of node.elements || []) walk(child);
  };
  walk(block);
  return out.join("");
}

function formValue(ctx, block, el) {
  const form = ctx.view_id ? state.forms[ctx.view_id] : null;
  const typed = form?.[block.block_id]?.[el.action_id];
  return typed;
}

function remember(ctx, block, el, value) {
  const key = ctx.view_id || `msg:${ctx.channel}:${ctx.message_ts}`;
  const form = (state.forms[key] ||= {});
  (form[block.block_id] ||= {})[el.action_id] = value;
}

function collectForm(ctx) {
  return state.forms[ctx.view_id || `msg:${ctx.channel}:${ctx.message_ts}`] || {};
}

/* A Block Kit confirm object, drawn as Slack draws it: the action is sent only on confirm. */
function confirmDialog(c) {
  return new Promise((resolve) => {
    const root = $("#confirm-root");
    root.innerHTML = "";
    const done = (yes) => { root.innerHTML = ""; resolve(yes); };
    const overlay = h("div", { class: "overlay" });
    const box = h("div", { class: "modal confirm", role: "alertdialog", "data-testid": "confirm-dialog" });
    const head = h("div", { class: "modal-head" });
    head.appendChild(h("h2", { "data-testid": "confirm-title" }, textObj(c.title || { type: "plain_text", text: "Are you sure?" })));
    box.appendChild(head);
    box.appendChild(h("div", { class: "modal-body", "data-testid": "confirm-text" }, textObj(c.text)));
    const foot = h("div", { class: "modal-foot" });
    foot.appendChild(h("button", { type: "button", class: "btn", "data-testid": "confirm-deny", onclick: () => done(false) }, esc(c.deny?.text || "Cancel")));
    const style = c.style === "danger" ? "btn-danger-solid" : "btn-primary";
    foot.appendChild(h("button", { type: "button", class: `btn ${style}`, "data-testid": "confirm-yes", onclick: () => done(true) }, esc(c.confirm?.text || "Yes")));
    box.appendChild(foot);
    overlay.appendChild(box);
    overlay.addEventListener("click", (ev) => { if (ev.target === overlay) done(false); });
    root.appendChild(overlay);
  });
}

async function act(ctx, block, el, value) {
  if (el.confirm && !(await confirmDialog(el.confirm))) return;
  await api("action", {
    unfurl_url: ctx.unfurl_url,
    block_id: block.block_id,
    action_id: el.action_id,
    value,
    channel: ctx.channel,
    message_ts: ctx.message_ts,
    ephemeral: ctx.ephemeral,
    view_id: ctx.view_id,
    form: collectForm(ctx),
  });
}

function renderElement(el, block, ctx, where) {
  const dispatches = where !== "input" || block.dispatch_action;
  const onChange = (value) => {
    remember(ctx, block, el, value);
    if (dispatches) act(ctx, block, el, value);
  };
  const initial = (v) => {
    const typed = formValue(ctx, block, el);
    return typed !== undefined ? typed : v;
  };
  const common = { dataset: { action: el.action_id || "", kind: el.type } };
  const placeholder = el.placeholder?.text;
  switch (el.type) {
    case "button": {
      const b = h("button", { type: "button", class: `btn ${el.style ? "btn-" + el.style : ""}`, ...common }, esc(el.text?.text || "Button"));
      if (el.url) b.addEventListener("click", () => window.open(el.url, "_blank", "noopener"));
      b.addEventListener("click", () => {
        b.disabled = true;
        act(ctx, block, el, el.value).finally(() => (b.disabled = false));
      });
      return b;
    }
    case "image":
      return h("img", { src: el.image_url, alt: el.alt_text || "", class: "accessory-img" });
    case "overflow": {
      const s = h("select", { class: "overflow", ...common });
      s.appendChild(h("option", { value: "" }, "⋯"));
      for (const o of el.options || []) s.appendChild(h("option", { value: o.value }, esc(o.text?.text)));
      s.addEventListener("change", () => s.value && act(ctx, block, el, s.value));
      return s;
    }
    case "plain_text_input":
    case "url_text_input":
    case "email_text_input":
    case "number_input": {
      const multiline = el.type === "plain_text_input" && el.multiline;
      const type = { url_text_input: "url", email_text_input: "email", number_input: "number" }[el.type] || "text";
      const input = multiline
        ? h("textarea", { rows: 4, placeholder, ...common })
        : h("input", { type, placeholder, ...common, step: el.type === "number_input" ? (el.is_decimal_allowed ? "any" : "1") : undefined, min: el.min_value, max: el.max_value });
      if (el.max_length) input.maxLength = el.max_length;
      input.value = initial(el.initial_value ?? "") ?? "";
      remember(ctx, block, el, input.value);
      input.addEventListener("input", () => remember(ctx, block, el, input.value));
      if (block.dispatch_action) input.addEventListener("change", () => onChange(input.value));
      return input;
    }
    case "external_select": {
      // Slack asks the app's options URL as the person types (block_suggestion) and
      // shows what it answers; the chosen option (text and value) is what is submitted.
      const box = h("div", { class: "external-select", ...common });
      const input = h("input", { type: "search", placeholder, autocomplete: "off", "aria-label": placeholder || "Search" });
      const list = h("ul", { class: "suggestions", role: "listbox" });
      const chosen = initial(el.initial_option || null);
      input.value = chosen?.text?.text ?? (typeof chosen === "string" ? chosen : "");
      remember(ctx, block, el, chosen);
      let asked = 0;
      input.addEventListener("input", async () => {
        remember(ctx, block, el, null);
        const typed = input.value;
        list.replaceChildren();
        if (typed.length < (el.min_query_length ?? 3)) return;
        const mine = ++asked;
        const answer = await api("suggest", { view_id: ctx.view_id, block_id: block.block_id, action_id: el.action_id, value: typed });
        if (mine !== asked) return; // a later keystroke asked again
        for (const o of answer.options || []) {
          const item = h("li", { role: "option", tabindex: "0", dataset: { value: o.value } }, esc(o.text?.text));
          const pick = () => {
            input.value = o.text?.text || o.value;
            list.replaceChildren();
            onChange({ text: o.text, value: o.value });
          };
          item.addEventListener("click", pick);
          item.addEventListener("keydown", (e) => e.key === "Enter" && pick());
          list.appendChild(item);
        }
        if (!(answer.options || []).length) list.appendChild(h("li", { class: "none" }, "No results"));
      });
      box.append(input, list);
      return box;
    }
    case "static_select":
    case "users_select":
    case "conversations_select":
    case "channels_select":
    case "multi_static_select":
    case "multi_users_select": {
      const multi = el.type.startsWith("multi_");
      const s = h("select", { ...common, multiple: multi });
      if (!multi) s.appendChild(h("option", { value: "" }, esc(placeholder || "Select an item")));
      let opts;
      if (el.type.includes("users")) opts = (state.data.people || []).filter((p) => !p.is_bot).map((p) => ({ value: p.id, text: { text: p.real_name } }));
      else if (el.type.includes("channel") || el.type.includes("conversation")) opts = (state.data.channels || []).filter((c) => !c.is_im).map((c) => ({ value: c.id, text: { text: "#" + c.name } }));
      else opts = null;
      if (opts) for (const o of opts) s.appendChild(h("option", { value: o.value }, esc(o.text.text)));
      else if (el.option_groups) {
        for (const g of el.option_groups) {
          const og = h("optgroup", { label: g.label?.text || "" });
          for (const o of g.options || []) og.appendChild(h("option", { value: o.value }, esc(o.text?.text)));
          s.appendChild(og);
        }
      } else for (const o of el.options || []) s.appendChild(h("option", { value: o.value }, esc(o.text?.text)));
      const init = el.initial_option?.value ?? el.initial_user ?? el.initial_conversation ?? el.initial_channel ?? (el.initial_options || []).map((o) => o.value);
      const value = initial(multi ? init || [] : init ?? "");
      if (multi) for (const o of s.options) o.selected = (value || []).includes(o.value);
      else s.value = value ?? "";
      remember(ctx, block, el, multi ? value : s.value || null);
      s.addEventListener("change", () => onChange(multi ? [...s.selectedOptions].map((o) => o.value) : s.value || null));
      return s;
    }
    case "radio_buttons":
    case "checkboxes": {
      const radio = el.type === "radio_buttons";
      const group = h("div", { class: "choices", ...common, role: radio ? "radiogroup" : "group" });
      const name = `${ctx.view_id || ctx.message_ts}-${block.block_id}-${el.action_id}`;
      const init = radio ? el.initial_option?.value ?? null : (el.initial_options || []).map((o) => o.value);
      const value = initial(init);
      const read = () => {
        const checked = [...group.querySelectorAll("input:checked")].map((i) => i.value);
        return radio ? checked[0] ?? null : checked;
      };
      for (const o of el.options || []) {
        const input = h("input", { type: radio ? "radio" : "checkbox", name, value: o.value });
        input.checked = radio ? value === o.value : (value || []).includes(o.value);
        input.addEventListener("change", () => onChange(read()));
        const label = h("label", { class: "choice" });
        label.appendChild(input);
        label.appendChild(h("span", {}, textObj(o.text) + (o.description ? `<small>${textObj(o.description)}</small>` : "")));
        group.appendChild(label);
      }
      remember(ctx, block, el, read());
      return group;
    }
    case "datepicker":
    case "timepicker":
    case "datetimepicker": {
      const type = { datepicker: "date", timepicker: "time", datetimepicker: "datetime-local" }[el.type];
      const input = h("input", { type, ...common });
      const init = el.type === "datepicker" ? el.initial_date : el.type === "timepicker" ? el.initial_time : epochToLocalInput(el.initial_date_time, myTz());
      input.value = initial(init ?? "") ?? "";
      remember(ctx, block, el, input.value || null);
      input.addEventListener("change", () => onChange(input.value || null));
      const wrap = h("span", { class: "picker" });
      wrap.appendChild(input);
      if (el.type !== "datepicker") wrap.appendChild(h("small", { class: "tz" }, esc(el.timezone || myTz())));
      return wrap;
    }
    default:
      return h("span", { class: "unsupported" }, `[${esc(el.type)}]`);
  }
}

/* ------------------------------------------------------------------ page */

function render() {
  const d = state.data;
  if (!d) return;
  renderSidebar(d);
  renderMain(d);
  renderModals(d);
}

function once(key, value, fn) {
  const json = JSON.stringify(value);
  if (state.rendered[key] === json) return;
  state.rendered[key] = json;
  fn();
}

function renderSidebar(d) {
  $("#team-name").textContent = d.team.name;
  once("workspaces", [d.workspaces, d.team.id], () => {
    const pick = $("#workspace");
    pick.innerHTML = "";
    for (const w of d.workspaces || []) {
      const label = `${esc(w.name)}${w.installed ? "" : " (Rally not installed)"}`;
      pick.appendChild(h("option", { value: w.id }, label));
    }
    pick.value = d.team.id;
    $("#workspaces").hidden = !(d.oauth || (d.workspaces || []).length > 1);
  });
  once("who", d.people, () => {
    const who = $("#who");
    who.innerHTML = "";
    for (const p of d.people.filter((p) => !p.is_bot)) who.appendChild(h("option", { value: p.id }, `${esc(p.real_name)} · ${esc(p.tz)}`));
    who.value = state.user;
  });
  once("channels", [d.channels, state.view], () => {
    const list = $("#channel-list");
    list.innerHTML = "";
    for (const c of d.channels.filter((c) => !c.is_im)) {
      const b = h("button", { class: `nav ${state.view === c.id ? "active" : ""}`, "data-channel": c.id, "data-testid": `channel-${c.name}`, onclick: () => go(c.id) }, `<span class="hash">${c.is_private ? "🔒" : "#"}</span> ${esc(c.name)}`);
      const li = h("li");
      li.appendChild(b);
      list.appendChild(li);
    }
    $("#open-app").classList.toggle("active", state.view === "app");
    $("#open-workflows").classList.toggle("active", state.view === "workflows");
  });
}

function go(view) {
  state.view = view;
  state.threadTs = null;
  localStorage.setItem("console.view", view);
  state.rendered = {};
  if (view === "app" && state.tab === "home") api("home", {});
  render();
}

function currentChannel() {
  return state.view === "app" ? state.data.bot.dm : state.view;
}

function renderMain(d) {
  const inWorkflows = state.view === "workflows";
  $("#workflows").hidden = !inWorkflows;
  if (inWorkflows) {
    $("#tabs").hidden = true;
    $("#title").innerHTML = "<b>Workflow Builder</b>";
    $("#membership").innerHTML = "";
    $("#home").hidden = true;
    $("#feed").hidden = true;
    $("#composer-area").hidden = true;
    renderWorkflows(d);
    return;
  }
  const inApp = state.view === "app";
  const ch = channel(state.view);
  $("#tabs").hidden = !inApp;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === state.tab);
  $("#title").innerHTML = inApp ? `<span class="app-dot">R</span> Rally <span class="badge">APP</span>` : `<b>#${esc(ch?.name || state.view)}</b>`;
  const member = $("#membership");
  member.innerHTML = "";
  if (ch && !ch.is_im) {
    const text = ch.bot_member ? "Rally is in this channel" : "Rally is not in this channel";
    member.appendChild(h("span", { class: "muted" }, text + " · "));
    member.appendChild(h("button", { class: "link", "data-testid": "toggle-bot", onclick: () => api("membership", { channel: ch.id, member: !ch.bot_member }) }, ch.bot_member ? "remove" : "add"));
    member.appendChild(h("span", { class: "muted" }, " · "));
    member.appendChild(h("button", { class: "link", "data-testid": "sample-thread", title: "Post a thread of N messages by the workspace's people, to try Log thread as note", onclick: () => { const n = window.prompt("A thread of how many messages?", "25"); if (n) api("thread", { channel: ch.id, count: Number(n) }); } }, "sample thread"));
  }
  const showHome = inApp && state.tab === "home";
  $("#home").hidden = !showHome;
  $("#feed").hidden = showHome;
  $("#composer-area").hidden = showHome;
  $("#attach-button").hidden = !inApp || showHome;
  const readOnly = inApp && d.messages_tab_read_only;
  $("#composer-text").disabled = readOnly;
  $("#send").disabled = readOnly;
  $("#composer-text").placeholder = readOnly ? "Sending messages to this app has been turned off." : "Message, or /rally help";
  if (showHome) {
    once("home", d.home, () => {
      const home = $("#home");
      home.innerHTML = "";
      if (!d.home) home.appendChild(h("p", { class: "muted" }, "The app has not published a Home tab for you yet."));
      else home.appendChild(renderBlocks(d.home.blocks, { surface: "home", view_id: d.home.id }));
    });
  } else {
    const chId = currentChannel();
    const msgs = d.messages[chId] || [];
    const notices = (d.notices || []).filter((n) => !n.channel || n.channel === chId);
    once("feed", [chId, msgs, notices, d.people], () => renderFeed(chId, msgs, notices));
  }
  $("#thread-note").hidden = !state.threadTs;
}

function renderFeed(chId, msgs, notices) {
  const feed = $("#feed");
  const atBottom = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 40;
  feed.innerHTML = "";
  const all = [...msgs, ...notices.map((n) => ({ ...n, notice: true }))].sort((a, b) => Number(a.ts) - Number(b.ts));
  const byTs = new Map();
  const tops = [];
  for (const m of all) {
    if (m.thread_ts && m.thread_ts !== m.ts && all.some((p) => p.ts === m.thread_ts)) {
      (byTs.get(m.thread_ts) || byTs.set(m.thread_ts, []).get(m.thread_ts)).push(m);
    } else tops.push(m);
  }
  if (!tops.length) feed.appendChild(h("p", { class: "muted empty" }, "No messages yet. Type <code>/rally help</code> below."));
  for (const m of tops) {
    const el = renderMessage(m, chId);
    const replies = byTs.get(m.ts) || [];
    if (replies.length) {
      const thread = h("div", { class: "thread", "data-testid": "thread" });
      thread.appendChild(h("div", { class: "thread-title muted" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`));
      for (const r of replies) thread.appendChild(renderMessage(r, chId));
      el.appendChild(thread);
    }
    feed.appendChild(el);
  }
  if (atBottom || !state.scrolled) feed.scrollTop = feed.scrollHeight;
}

function renderMessage(m, chId) {
  const tz = myTz();
  const time = new Intl.DateTimeFormat("en-US", { timeZone: tz, hour: "numeric", minute: "2-digit" }).format(new Date(Number(m.ts) * 1000));
  if (m.notice) {
    const n = h("div", { class: "message notice ephemeral", "data-testid": "notice" });
    n.appendChild(h("div", { class: "avatar slackbot" }, "S"));
    n.appendChild(h("div", { class: "content" }, `<div class="meta"><b>Slackbot</b> <span class="muted">${time}</span> <span class="only-you">Only visible to you</span></div><div>${esc(m.text)}</div>`));
    return n;
  }
  const isBot = Boolean(m.bot_id);
  const who = isBot ? { real_name: "Rally" } : person(m.user) || { real_name: m.user };
  const el = h("div", { class: `message ${m.is_ephemeral ? "ephemeral" : ""}`, "data-testid": m.is_ephemeral ? "ephemeral" : "message", "data-ts": m.ts });
  el.appendChild(h("div", { class: `avatar ${isBot ? "bot" : ""}` }, esc((who.real_name || "?")[0])));
  const content = h("div", { class: "content" });
  let meta = `<b>${esc(who.real_name)}</b>${isBot ? ' <span class="badge">APP</span>' : ""} <span class="muted">${time}</span>`;
  if (m.edited) meta += ' <span class="muted">(edited)</span>';
  if (m.is_ephemeral) meta += ' <span class="only-you">Only visible to you</span>';
  content.appendChild(h("div", { class: "meta" }, meta));
  const ctx = { surface: "message", channel: chId, message_ts: m.ts, ephemeral: Boolean(m.is_ephemeral) };
  if (m.blocks && m.blocks.length) content.appendChild(renderBlocks(m.blocks, ctx));
  else if (m.text) content.appendChild(h("div", { class: "section-text" }, m.bot_id ? mrkdwn(m.text) : autolink(m.text)));
  for (const f of m.files || []) {
    const chip = h("a", { class: "file", "data-testid": "file", href: `files/${encodeURIComponent(f.id)}`, target: "_blank", download: f.name }, `📄 ${esc(f.title || f.name)} <span class="muted">${esc(String(f.size))} bytes</span>`);
    content.appendChild(chip);
  }
  for (const u of m.unfurls || []) {
    // The app's unfurl of one link (chat.unfurl), attached under the message as Slack does.
    const box = h("div", { class: "unfurl", "data-testid": "unfurl", "data-url": u.url });
    box.appendChild(h("div", { class: "unfurl-app muted" }, `<span class="app-dot">R</span> Rally`));
    if (u.blocks && u.blocks.length) box.appendChild(renderBlocks(u.blocks, { ...ctx, unfurl_url: u.url }));
    else box.appendChild(h("div", { class: "section-text" }, mrkdwn(u.text || u.title || u.url)));
    content.appendChild(box);
  }
  el.appendChild(content);
  if (!m.is_ephemeral) {
    const tools = h("div", { class: "msg-tools" });
    tools.appendChild(h("button", { class: "tool", title: "Reply in thread", onclick: () => { state.threadTs = m.thread_ts || m.ts; $("#thread-note").hidden = false; $("#composer-text").focus(); } }, "💬"));
    tools.appendChild(h("button", { class: "tool", title: "More actions", "data-testid": "more-actions", onclick: (ev) => messageMenu(ev, m, chId) }, "⋯"));
    el.appendChild(tools);
  }
  return el;
}

function messageMenu(ev, m, chId) {
  const menu = $("#message-menu");
  menu.innerHTML = "";
  const shortcuts = state.data.shortcuts.filter((s) => s.kind === "message");
  menu.appendChild(h("div", { class: "menu-title" }, "Rally"));
  for (const s of shortcuts) {
    menu.appendChild(h("button", { class: "menu-item", "data-testid": `shortcut-${s.callback_id}`, onclick: () => { menu.hidden = true; api("shortcut", { callback_id: s.callback_id, channel: chId, message_ts: m.ts }); } }, esc(s.name)));
  }
  const r = ev.currentTarget.getBoundingClientRect();
  menu.style.top = `${r.bottom + window.scrollY}px`;
  menu.style.left = `${Math.max(8, r.right - 220)}px`;
  menu.hidden = false;
  ev.stopPropagation();
}

function renderModals(d) {
  once("modals", [d.modals, d.people], () => {
    const root = $("#modal-root");
    root.innerHTML = "";
    const live = new Set(d.modals.map((v) => v.id));
    for (const id of Object.keys(state.forms)) if (!id.startsWith("msg:") && !live.has(id) && id !== d.home?.id) delete state.forms[id];
    const top = d.modals[d.modals.length - 1];
    if (!top) return;
    const overlay = h("div", { class: "overlay" });
    const modal = h("form", { class: "modal", "data-testid": "modal", "data-callback-id": top.callback_id, novalidate: true });
    const head = h("div", { class: "modal-head" });
    head.appendChild(h("h2", { "data-testid": "modal-title" }, esc(top.title?.text || "")));
    head.appendChild(h("button", { type: "button", class: "x", title: "Close", "data-testid": "modal-x", onclick: () => api("close", { view_id: top.id }) }, "×"));
    modal.appendChild(head);
    const body = h("div", { class: "modal-body" });
    if (top.problem) body.appendChild(h("div", { class: "modal-problem", role: "alert" }, esc(top.problem)));
    body.appendChild(renderBlocks(top.blocks, { surface: "modal", view_id: top.id, errors: top.errors || {} }));
    modal.appendChild(body);
    const foot = h("div", { class: "modal-foot" });
    foot.appendChild(h("button", { type: "button", class: "btn", "data-testid": "modal-close", onclick: () => api("close", { view_id: top.id }) }, esc(top.close?.text || "Cancel")));
    if (top.submit) foot.appendChild(h("button", { type: "submit", class: "btn btn-primary", "data-testid": "modal-submit" }, esc(top.submit.text)));
    modal.appendChild(foot);
    modal.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const button = $("[data-testid=modal-submit]", modal);
      if (button) button.disabled = true;
      api("submit", { view_id: top.id, form: state.forms[top.id] || {} }).finally(() => { if (button) button.disabled = false; });
    });
    overlay.appendChild(modal);
    root.appendChild(overlay);
  });
}

/* ------------------------------------------------------------------ Workflow Builder */

const TYPE_NAMES = { "slack#/types/timestamp": "timestamp", "slack#/types/user_id": "user" };
const typeName = (p) => TYPE_NAMES[p.type] || p.type;
const stepOf = (d, id) => (d.steps || []).find((s) => s.callback_id === id);
const kv = (obj) => Object.entries(obj || {}).map(([k, v]) => `<code>${esc(k)}</code> = ${esc(typeof v === "object" ? JSON.stringify(v) : v)}`).join(", ") || "none";

function renderWorkflows(d) {
  const root = $("#workflows");
  if (!root.firstChild) {
    root.appendChild(h("h2", {}, "Workflow Builder"));
    root.appendChild(h("p", { class: "muted" }, "The app's custom steps, as <code>manifest.yml</code> declares them (<code>functions</code>). Add steps, fill their inputs (or feed one with an earlier step's output) and run the workflow: each step reaches the app as Slack's signed <code>function_executed</code> event, with its own short-lived token."));
    root.appendChild(h("div", { id: "wf-builder" }));
    root.appendChild(h("div", { id: "wf-runs", class: "wf-runs", "data-testid": "wf-runs" }));
  }
  const people = (d.people || []).map((p) => p.id);
  once("wf-builder", [d.steps, state.workflow.map((s) => s.callback_id), people, state.wfError], () => renderBuilder(d));
  once("wf-runs", [d.workflow_runs], () => renderRuns(d));
}

function renderBuilder(d) {
  const box = $("#wf-builder");
  box.innerHTML = "";
  const catalog = h("div", { class: "wf-catalog" });
  catalog.appendChild(h("div", {}, "<b>Steps from Rally</b>"));
  for (const step of d.steps || []) {
    const card = h("div", { class: "wf-card", "data-testid": `catalog-${step.callback_id}` });
    const title = h("h3", {}, esc(step.title));
    title.appendChild(h("button", { type: "button", class: "btn", "data-testid": `add-step-${step.callback_id}`, onclick: () => { state.workflow.push({ callback_id: step.callback_id, inputs: {} }); state.wfError = null; render(); } }, "Add step"));
    card.appendChild(title);
    if (step.description) card.appendChild(h("div", { class: "muted" }, esc(step.description)));
    const describe = (params) => params.map((p) => `${esc(p.title)} <code>${esc(p.name)}</code> <span class="muted">${esc(typeName(p))}</span>${p.required ? ' <span class="wf-required">required</span>' : ""}`).join(" · ") || "none";
    card.appendChild(h("div", { class: "wf-kv" }, `Inputs: ${describe(step.inputs)}`));
    card.appendChild(h("div", { class: "wf-kv" }, `Outputs: ${describe(step.outputs)}`));
    catalog.appendChild(card);
  }
  if (!(d.steps || []).length) catalog.appendChild(h("p", { class: "muted" }, "manifest.yml declares no functions."));
  box.appendChild(catalog);

  const steps = h("div", { class: "wf-steps", "data-testid": "wf-steps" });
  steps.appendChild(h("div", {}, "<b>Your workflow</b>"));
  state.workflow.forEach((item, i) => {
    const step = stepOf(d, item.callback_id);
    if (!step) return;
    const card = h("div", { class: "wf-card", "data-testid": "wf-step", "data-index": i });
    const title = h("h3", {}, `Step ${i + 1} · ${esc(step.title)}`);
    title.appendChild(h("button", { type: "button", class: "link", "data-testid": "wf-remove", onclick: () => { state.workflow.splice(i, 1); state.wfError = null; render(); } }, "remove"));
    card.appendChild(title);
    const variables = [];
    state.workflow.slice(0, i).forEach((earlier, j) => {
      for (const o of stepOf(d, earlier.callback_id)?.outputs || []) variables.push({ value: `${j}:${o.name}`, label: `Step ${j + 1} · ${o.title}` });
    });
    for (const p of step.inputs) card.appendChild(renderParam(d, item, p, variables));
    steps.appendChild(card);
  });
  if (!state.workflow.length) steps.appendChild(h("p", { class: "muted" }, "No steps yet: add one above."));
  box.appendChild(steps);
  if (state.wfError) box.appendChild(h("div", { class: "wf-error", role: "alert", "data-testid": "wf-error" }, esc(state.wfError)));
  box.appendChild(h("button", { type: "button", class: "btn btn-primary", "data-testid": "run-workflow", disabled: !state.workflow.length, onclick: runWorkflow }, "Run workflow"));
}

function renderParam(d, item, p, variables) {
  const row = h("div", { class: "wf-param", "data-testid": `wf-input-${p.name}` });
  row.appendChild(h("span", {}, `${esc(p.title)}${p.required ? ' <span class="wf-required">*</span>' : ""}<small>${esc(typeName(p))}</small>`));
  const bound = item.inputs[p.name] || {};
  let control;
  if (p.enum.length || p.type === "slack#/types/user_id") {
    control = h("select", {});
    control.appendChild(h("option", { value: "" }, "—"));
    const choices = p.enum.length ? p.enum.map((v) => [v, v]) : (d.people || []).filter((x) => !x.is_bot).map((x) => [x.id, x.real_name]);
    for (const [value, label] of choices) control.appendChild(h("option", { value }, esc(label)));
  } else if (p.type === "slack#/types/timestamp") control = h("input", { type: "datetime-local" });
  else control = h("input", { type: "text", placeholder: p.description || "" });
  control.dataset.role = "value";
  control.value = bound.value ?? "";
  const set = () => { item.inputs[p.name] = { value: control.value }; };
  control.addEventListener("input", set);
  control.addEventListener("change", set);
  row.appendChild(control);
  const variable = h("select", { "data-role": "variable", title: "Use an earlier step's output" });
  variable.appendChild(h("option", { value: "" }, variables.length ? "or use a variable…" : "no variables yet"));
  for (const v of variables) variable.appendChild(h("option", { value: v.value }, esc(v.label)));
  variable.disabled = !variables.length;
  if (bound.from_step !== undefined) {
    variable.value = `${bound.from_step}:${bound.output}`;
    control.disabled = true;
  }
  variable.addEventListener("change", () => {
    if (variable.value) {
      const [j, name] = variable.value.split(":");
      item.inputs[p.name] = { from_step: Number(j), output: name };
      control.disabled = true;
    } else {
      control.disabled = false;
      set();
    }
  });
  row.appendChild(variable);
  return row;
}

async function runWorkflow() {
  const resp = await fetch("workflow", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: state.user, steps: state.workflow }),
  });
  const data = await resp.json().catch(() => ({ ok: false, error: `The console answered HTTP ${resp.status}.` }));
  state.wfError = data.ok ? null : data.error || `The console answered HTTP ${resp.status}.`;
  render();
}

function renderRuns(d) {
  const box = $("#wf-runs");
  box.innerHTML = "";
  const runs = [...(d.workflow_runs || [])].reverse();
  if (runs.length) box.appendChild(h("div", {}, "<b>Runs</b>"));
  for (const run of runs) {
    const card = h("div", { class: "wf-card", "data-testid": "wf-run", "data-run-id": run.id, "data-status": run.status });
    card.appendChild(h("h3", {}, `<span>Run <code>${esc(run.id)}</code></span> <span class="wf-status ${esc(run.status)}" data-testid="wf-run-status">${esc(run.status)}</span>`));
    run.steps.forEach((st, i) => {
      const row = h("div", { class: "wf-run-step", "data-testid": "wf-run-step", "data-status": st.status });
      row.appendChild(h("div", {}, `Step ${i + 1} · ${esc(st.title)} <span class="wf-status ${esc(st.status)}">${esc(st.status)}</span>${st.execution_id ? ` <span class="muted">${esc(st.execution_id)}</span>` : ""}`));
      if (st.status !== "waiting") row.appendChild(h("div", { class: "wf-kv" }, `Inputs: ${kv(st.inputs)}`));
      if (st.outputs) row.appendChild(h("div", { class: "wf-kv", "data-testid": "wf-outputs" }, `Outputs: ${kv(st.outputs)}`));
      if (st.error) row.appendChild(h("div", { class: "wf-error", "data-testid": "wf-step-error" }, esc(st.error)));
      card.appendChild(row);
    });
    box.appendChild(card);
  }
}

/* ------------------------------------------------------------------ wiring */

function shortcutMenu(ev) {
  const menu = $("#shortcut-menu");
  menu.innerHTML = "";
  menu.appendChild(h("div", { class: "menu-title" }, "Shortcuts"));
  for (const s of state.data.shortcuts.filter((s) => s.kind === "global")) {
    menu.appendChild(h("button", { class: "menu-item", "data-testid": `shortcut-${s.callback_id}`, onclick: () => { menu.hidden = true; api("shortcut", { callback_id: s.callback_id }); } }, `${esc(s.name)} <span class="muted">Rally</span>`));
  }
  menu.hidden = !menu.hidden;
  ev.stopPropagation();
}

function send(ev) {
  ev.preventDefault();
  const box = $("#composer-text");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  api("send", { channel: currentChannel(), text, thread_ts: state.threadTs });
}

function bytesToBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function shareFile(ev) {
  // What Slack does when a file is dropped into the app's Messages tab: the file is kept,
  // and the app gets a message event (file_share) naming it.
  const input = ev.target;
  const file = input.files && input.files[0];
  input.value = "";
  if (!file) return;
  const content_b64 = bytesToBase64(await file.arrayBuffer());
  await api("upload", { name: file.name, content_b64 });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#who").addEventListener("change", (ev) => {
    state.user = ev.target.value;
    localStorage.setItem("console.user", state.user);
    state.forms = {};
    if (state.view === "app" && state.tab === "home") api("home", {});
    refresh();
  });
  $("#open-app").addEventListener("click", () => go("app"));
  $("#workspace").addEventListener("change", (ev) => {
    const first = (state.data.workspaces || [])[0];
    switchWorkspace(first && ev.target.value === first.id ? "" : ev.target.value);
  });
  $("#add-workspace").addEventListener("click", addWorkspace);
  $("#open-workflows").addEventListener("click", () => go("workflows"));
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => {
      state.tab = b.dataset.tab;
      state.rendered = {};
      if (state.tab === "home") api("home", {});
      render();
    });
  }
  $("#composer").addEventListener("submit", send);
  $("#composer-text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) send(ev);
  });
  $("#thread-cancel").addEventListener("click", () => { state.threadTs = null; $("#thread-note").hidden = true; });
  $("#shortcuts-button").addEventListener("click", shortcutMenu);
  $("#attach-button").addEventListener("click", () => $("#attach").click());
  $("#attach").addEventListener("change", shareFile);
  $("#feed").addEventListener("scroll", () => (state.scrolled = true));
  document.addEventListener("click", () => { $("#message-menu").hidden = true; $("#shortcut-menu").hidden = true; });
  const params = new URLSearchParams(location.search);
  if (params.get("team") !== null) state.team = params.get("team");
  localStorage.setItem("console.team", state.team);
  if (params.get("user")) state.user = params.get("user");
  if (params.get("channel")) state.view = params.get("channel");
  if (state.view === "app") api("home", {});
  poll();
});
