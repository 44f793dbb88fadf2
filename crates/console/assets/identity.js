// Identity (for admins): users, groups, policies and service accounts,
// through the admin API with the user's own keys.
import { admin } from "./api.js";
import { h, mount, guard, toast, jsonProblem } from "./ui.js";

const enc = encodeURIComponent;

export async function identityView() {
  const err = h("div", { class: "error", role: "alert" });
  const users = h("div"), groups = h("div"), policies = h("div"), accounts = h("div");
  let policyNames = [];
  mount(h("h1", {}, "Identity"), err, users, groups, policies, accounts);

  const policySelect = (id) => h("select", { id, multiple: true, "aria-label": "Policies", size: 4 }, ...policyNames.map((p) => h("option", { value: p }, p)));
  const chosen = (sel) => [...sel.selectedOptions].map((o) => o.value);

  async function render() {
    const [u, g, p, s] = await Promise.all([admin("GET", "users"), admin("GET", "groups"), admin("GET", "policies"), admin("GET", "service-accounts").catch(() => [])].map((x) => guard(() => x, err)));
    if (!u) return;
    policyNames = (p || []).map((x) => x.name);

    const name = h("input", { id: "user-name", placeholder: "user name (access key)", "aria-label": "User name", autocomplete: "off" });
    const secret = h("input", { id: "user-secret", type: "password", placeholder: "secret key (8+ characters)", "aria-label": "Secret key", autocomplete: "new-password" });
    const pols = policySelect("user-policies");
    const uerr = h("div", { class: "error", role: "alert" });
    users.replaceChildren(h("section", { class: "card", id: "users" }, h("h2", {}, "Users"),
      u.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Status"), h("th", {}, "Policies"), h("th", { class: "hide-s" }, "Groups"), h("th", {}))), h("tbody", {}, ...u.map((x) => h("tr", { "data-user": x.name },
        h("td", {}, x.name), h("td", {}, x.status), h("td", {}, x.policies.join(", ")), h("td", { class: "hide-s" }, x.groups.join(", ")),
        h("td", { class: "num" },
          h("button", { type: "button", class: "secondary", onclick: async () => {
            const answer = window.prompt(`Policies for ${x.name}, comma separated (available: ${policyNames.join(", ")}):`, x.policies.join(", "));
            if (answer === null) return;
            const want = answer.split(",").map((v) => v.trim()).filter(Boolean);
            const detach = x.policies.filter((v) => !want.includes(v)), attach = want.filter((v) => !x.policies.includes(v));
            const ok = await guard(async () => {
              if (detach.length) await admin("POST", "policy-attachments", { attach: false, policies: detach, user: x.name });
              if (attach.length) await admin("POST", "policy-attachments", { attach: true, policies: attach, user: x.name });
              return true;
            }, uerr);
            if (ok) { toast("Policies saved"); render(); }
          } }, "Policies"), " ",
          h("button", { type: "button", class: "secondary", onclick: async () => { if (await guard(() => admin("PUT", `users/${enc(x.name)}/status`, { status: x.status === "enabled" ? "disabled" : "enabled" }))) render(); } }, x.status === "enabled" ? "Disable" : "Enable"), " ",
          h("button", { type: "button", class: "danger", onclick: async () => { if (window.confirm(`Delete user ${x.name}?`) && await guard(() => admin("DELETE", `users/${enc(x.name)}`))) { toast("User deleted"); render(); } } }, "Delete")))))) : h("div", { class: "empty" }, "No users yet."),
      h("h2", {}, "Add a user"), h("div", { class: "row" }, name, secret, pols,
        h("button", { type: "button", id: "create-user", onclick: async () => {
          const ok = await guard(async () => {
            await admin("PUT", `users/${enc(name.value)}`, { secret_key: secret.value });
            const ps = chosen(pols); if (ps.length) await admin("POST", "policy-attachments", { attach: true, policies: ps, user: name.value });
            return true;
          }, uerr);
          if (ok) { toast(`User ${name.value} created`); render(); }
        } }, "Create user")), uerr));

    const gname = h("input", { placeholder: "group name", "aria-label": "Group name" });
    const members = h("input", { placeholder: "members, comma separated", "aria-label": "Members" });
    const gpols = policySelect("group-policies");
    const gerr = h("div", { class: "error", role: "alert" });
    groups.replaceChildren(h("section", { class: "card", id: "groups" }, h("h2", {}, "Groups"),
      (g || []).length ? h("table", {}, h("tbody", {}, ...g.map((x) => h("tr", {}, h("td", {}, x.name), h("td", {}, x.status), h("td", {}, x.members.join(", ")), h("td", {}, x.policies.join(", ")),
        h("td", { class: "num" }, h("button", { type: "button", class: "danger", onclick: async () => { if (window.confirm(`Delete group ${x.name}?`) && await guard(() => admin("DELETE", `groups/${enc(x.name)}`))) render(); } }, "Delete")))))) : h("div", { class: "empty" }, "No groups yet."),
      h("h2", {}, "Add a group or members"), h("div", { class: "row" }, gname, members, gpols, h("button", { type: "button", onclick: async () => {
        const ok = await guard(async () => {
          await admin("POST", `groups/${enc(gname.value)}/members`, { add: members.value.split(",").map((s) => s.trim()).filter(Boolean) });
          const ps = chosen(gpols); if (ps.length) await admin("POST", "policy-attachments", { attach: true, policies: ps, group: gname.value });
          return true;
        }, gerr);
        if (ok) { toast("Group saved"); render(); }
      } }, "Save group")), gerr));

    const pname = h("input", { id: "policy-name", placeholder: "policy name", "aria-label": "Policy name" });
    const pdoc = h("textarea", { id: "policy-doc", "aria-label": "Policy JSON", spellcheck: "false" });
    const perr = h("div", { class: "error", role: "alert" });
    pdoc.addEventListener("input", () => { perr.textContent = jsonProblem(pdoc.value); });
    policies.replaceChildren(h("section", { class: "card", id: "policies" }, h("h2", {}, "Policies"),
      h("table", {}, h("tbody", {}, ...(p || []).map((x) => h("tr", {}, h("td", {}, x.name), h("td", {}, x.builtin ? "built-in" : "custom"),
        h("td", { class: "num" }, h("button", { type: "button", class: "secondary", onclick: () => { pname.value = x.name; pdoc.value = JSON.stringify(JSON.parse(x.document), null, 2); pdoc.focus(); } }, x.builtin ? "View" : "Edit"), " ",
          x.builtin ? null : h("button", { type: "button", class: "danger", onclick: async () => { if (window.confirm(`Delete policy ${x.name}?`) && await guard(() => admin("DELETE", `policies/${enc(x.name)}`))) render(); } }, "Delete")))))),
      h("h2", {}, "Create or edit a policy"), h("div", { class: "row" }, pname), pdoc, perr,
      h("div", { class: "row" }, h("button", { type: "button", id: "save-policy", onclick: async () => {
        const problem = jsonProblem(pdoc.value); if (problem) { perr.textContent = problem; return; }
        const ok = await guard(async () => { await admin("PUT", `policies/${enc(pname.value)}`, JSON.parse(pdoc.value)); return true; }, perr);
        if (ok) { toast("Policy saved"); render(); }
      } }, "Save policy"))));

    const parent = h("input", { placeholder: "for user (empty = you)", "aria-label": "Parent user" });
    const aerr = h("div", { class: "error", role: "alert" });
    const created = h("div", { class: "muted" });
    accounts.replaceChildren(h("section", { class: "card", id: "service-accounts" }, h("h2", {}, "Access keys (service accounts)"),
      (s || []).length ? h("table", {}, h("tbody", {}, ...s.map((x) => h("tr", {}, h("td", {}, x.access_key), h("td", {}, x.parent), h("td", {}, x.name || ""),
        h("td", { class: "num" }, h("button", { type: "button", class: "danger", onclick: async () => { if (window.confirm(`Delete access key ${x.access_key}?`) && await guard(() => admin("DELETE", `service-accounts/${enc(x.access_key)}`))) render(); } }, "Delete")))))) : h("div", { class: "empty" }, "No access keys yet."),
      h("div", { class: "row" }, parent, h("button", { type: "button", onclick: async () => {
        const r = await guard(() => admin("POST", "service-accounts", parent.value ? { parent: parent.value } : {}), aerr);
        if (r) { created.textContent = `Access key ${r.access_key} — secret ${r.secret_key} (shown once: copy it now)`; }
      } }, "Create access key")), created, aerr));
  }
  render();
}
