// The school admin console: the school's data, classes and groups with their
// heads and subject teachers, staff and students (transfer, expel, dismiss,
// roles given and taken back), invites by role (sent by SMS or e-mail), join
// requests, teacher verification, roster import, the weekly statistics and
// the move to a new school year.
import {formatDate, formatTime, t} from "../i18n.js";
import {all, api, upload} from "../api.js";
import {announce, busy, button, checkbox, confirmAction, copyText, errorText, field, h, modal} from "../dom.js";
import {navigate} from "../router.js";
import {store} from "../store.js";
import {empty, loading, personName, roleName, table} from "./common.js";
import {horizontalBars, weeklyBars} from "./charts.js";

const SECTIONS = ["school", "units", "teaching", "people", "invites", "requests", "verifications", "roster", "stats",
  "year"];
const STAFF_ROLES = ["admin", "director", "deputy", "teacher"];
const INVITE_ROLES = ["teacher", "student", "parent", "deputy", "director"];
const STAFF = new Set(["admin", "director", "deputy", "teacher"]);

function select(options, props = {}) {
  return h("select", props, options.map(([value, label]) => h("option", {value}, label)));
}

function fieldErrors(form, error) {
  const fields = (error && error.details && error.details.fields) || {};
  let shown = false;
  for (const [name, messages] of Object.entries(fields)) {
    const control = form.querySelector(`[name="${name}"]`);
    const wrap = control && control.closest(".field");
    if (wrap && wrap.setError) {
      wrap.setError(Array.isArray(messages) ? messages.join(" ") : t("error.validation_error"));
      shown = true;
    }
  }
  if (!shown) announce(errorText(error), "error");
}

async function unitsOf(orgId) {
  return all(`/orgs/${orgId}/units`);
}

async function school(org, box) {
  const data = await api.get(`/orgs/${org.org_id}`);
  const inputs = {
    name: h("input", {type: "text", name: "name", value: data.name || "", required: true, maxlength: 300}),
    address: h("input", {type: "text", name: "address", value: data.address || "", maxlength: 300}),
    journal_url: h("input", {type: "url", name: "journal_url", value: data.journal_url || "",
      placeholder: "https://"}),
    diary_url: h("input", {type: "url", name: "diary_url", value: data.diary_url || "", placeholder: "https://"}),
  };
  const form = h("form", {class: "form section", onsubmit: async (event) => {
    event.preventDefault();
    const changes = {};
    for (const [name, input] of Object.entries(inputs)) {
      if (input.value.trim() !== (data[name] || "")) changes[name] = input.value.trim();
    }
    try {
      Object.assign(data, await api.patch(`/orgs/${org.org_id}`, changes));
      announce(t("admin.saved"));
    } catch (error) {
      fieldErrors(form, error);
    }
  }},
  h("h2", {}, t("admin.schoolData")),
  field(t("admin.orgName"), inputs.name), field(t("admin.address"), inputs.address),
  field(t("admin.journal"), inputs.journal_url, t("admin.journalHint")),
  field(t("admin.diary"), inputs.diary_url),
  h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("common.save"))));
  box.append(form);
}

async function units(org, box) {
  const [list, teachers] = await Promise.all([unitsOf(org.org_id),
    all(`/orgs/${org.org_id}/members`, {role: "teacher"})]);
  const names = new Map(teachers.map((m) => [m.user_id, m]));
  const name = h("input", {type: "text", name: "name", required: true, maxlength: 100, placeholder: "5А"});
  const kind = select([["class", t("unit.class")], ["group", t("unit.group")]], {name: "kind"});
  const grade = h("input", {type: "number", name: "grade", min: 1, max: 12});
  const year = h("input", {type: "text", name: "academic_year", placeholder: "2026/2027"});
  const create = h("form", {class: "section", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api.post(`/orgs/${org.org_id}/units`, {name: name.value.trim(), kind: kind.value,
        grade: grade.value ? Number(grade.value) : null, academic_year: year.value.trim() || null});
      announce(t("admin.unitCreated", {name: name.value.trim()}));
      redraw();
    } catch (error) {
      fieldErrors(create, error);
    }
  }}, h("h2", {}, t("admin.newUnit")),
  h("div", {class: "grid-form"}, field(t("admin.unitName"), name), field(t("admin.unitKind"), kind),
    field(t("admin.grade"), grade), field(t("admin.year"), year)),
  h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("admin.create"))));
  const rows = list.map((unit) => {
    const head = unit.head_user_id ? names.get(unit.head_user_id) : null;
    const cells = [unit.name, t(`unit.${unit.kind}`), unit.grade || "",
      head ? personName(head) : h("span", {class: "muted"}, unit.kind === "staff_room" ? "" : t("admin.noHead"))];
    if (unit.kind === "staff_room") {
      cells.push("");
    } else {
      const choose = select([["", t("admin.chooseTeacher")],
        ...teachers.map((m) => [m.user_id, m.display_name || t("person.noName")])],
      {"aria-label": t("admin.headFor", {unit: unit.name})});
      cells.push(h("div", {class: "row"}, choose, button(t("admin.setHead"), (event) => busy(event.currentTarget,
        async () => {
          if (!choose.value) return;
          await api.put(`/orgs/${org.org_id}/units/${unit.id}/head`, {user_id: choose.value});
          announce(t("admin.headSet"));
          redraw();
        }))));
    }
    return cells;
  });
  box.append(create, h("section", {class: "section"}, h("h2", {}, t("admin.unitsTitle")),
    rows.length ? table([t("admin.unitName"), t("admin.unitKind"), t("admin.grade"), t("admin.head"), ""], rows)
      : empty(t("admin.noUnits"))));
}

// An employee's roles, each one that may be taken back with its button, and
// another role of the staff to give; what they teach.
function rolesCell(org, member, unitName) {
  const cell = h("div", {class: "roles"});
  const staff = member.roles.some((role) => STAFF.has(role));
  for (const role of member.roles) {
    if (staff && STAFF.has(role) && member.roles.length > 1) {
      cell.append(h("span", {class: "tag"}, roleName(role), " ", button("×", (event) => busy(event.currentTarget,
        async () => {
          if (!await confirmAction(t("admin.revokeRoleTitle", {role: roleName(role)}),
            t("admin.revokeRoleConfirm", {name: member.display_name}), t("admin.revokeRole", {role: roleName(role)}))) {
            return;
          }
          await api.del(`/orgs/${org.org_id}/members/${member.user_id}/roles/${role}`);
          announce(t("admin.roleChanged"));
          redraw();
        }), "link", {"aria-label": t("admin.revokeRole", {role: roleName(role)}), dataset: {revoke: role}})));
    } else {
      cell.append(h("span", {class: "tag"}, roleName(role)));
    }
  }
  const missing = STAFF_ROLES.filter((role) => !member.roles.includes(role));
  if (staff && missing.length) {
    const choose = select([["", t("admin.grantRole")], ...missing.map((role) => [role, roleName(role)])],
      {"aria-label": t("admin.grantRole"), name: "grant_role"});
    choose.addEventListener("change", () => busy(choose, async () => {
      if (!choose.value) return;
      await api.post(`/orgs/${org.org_id}/members/${member.user_id}/roles`, {role: choose.value});
      announce(t("admin.roleChanged"));
      redraw();
    }));
    cell.append(choose);
  }
  if ((member.teaching || []).length) {
    cell.append(h("p", {class: "muted"}, t("admin.teaches"), ": ", member.teaching.map((row) =>
      `${unitName.get(row.unit_id) || ""}${row.subject ? ` (${row.subject})` : ""}`).join(", ")));
  }
  return cell;
}

async function teaching(org, box) {
  const [unitList, teachers] = await Promise.all([unitsOf(org.org_id), all(`/orgs/${org.org_id}/members`)]);
  const classes = unitList.filter((unit) => unit.kind !== "staff_room");
  const staff = teachers.filter((m) => m.roles.some((role) => ["teacher", "deputy", "director"].includes(role)));
  const unit = select(classes.map((item) => [item.id, item.name]), {name: "unit_id"});
  const teacher = select(staff.map((m) => [m.user_id, m.display_name || t("person.noName")]), {name: "user_id"});
  const subject = h("input", {type: "text", name: "subject", maxlength: 100, placeholder: "Математика"});
  const form = h("form", {class: "section", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api.post(`/orgs/${org.org_id}/units/${unit.value}/teachers`, {user_id: teacher.value,
        subject: subject.value.trim()});
      announce(t("admin.assigned"));
      redraw();
    } catch (error) {
      fieldErrors(form, error);
    }
  }}, h("h2", {}, t("admin.teachingTitle")), h("p", {class: "muted"}, t("admin.teachingLead")),
  h("div", {class: "grid-form"}, field(t("admin.unit"), unit), field(t("admin.person"), teacher),
    field(t("admin.subject"), subject)),
  h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("admin.assign"))));
  box.append(form);
  const lists = await Promise.all(classes.map((item) => all(`/orgs/${org.org_id}/units/${item.id}/teachers`)));
  classes.forEach((item, index) => {
    const rows = lists[index].map((row) => [personName(row), row.subject || "",
      button(t("admin.unassign"), (event) => busy(event.currentTarget, async () => {
        await api.del(`/orgs/${org.org_id}/units/${item.id}/teachers/${row.user_id}`);
        redraw();
      }), "secondary")]);
    box.append(h("section", {class: "section", dataset: {unit: item.id}}, h("h2", {}, item.name),
      rows.length ? table([t("admin.person"), t("admin.subject"), ""], rows) : empty(t("admin.noTeachers"))));
  });
}

async function people(org, box) {
  const [members, unitList] = await Promise.all([all(`/orgs/${org.org_id}/members`), unitsOf(org.org_id)]);
  const unitName = new Map(unitList.map((unit) => [unit.id, unit.name]));
  const classes = unitList.filter((unit) => unit.kind !== "staff_room");
  const row = (member) => {
    const actions = h("div", {class: "row"});
    const roles = new Set(member.roles);
    if (roles.has("student")) {
      actions.append(button(t("admin.transfer"), (event) => busy(event.currentTarget, async () => {
        const choose = select(classes.filter((unit) => unit.id !== member.unit_id)
          .map((unit) => [unit.id, unit.name]));
        const answer = await modal(t("admin.transferTitle", {name: member.display_name}),
          [h("p", {}, t("admin.transferLead")), field(t("admin.toUnit"), choose)],
          [[t("common.cancel"), null, "secondary"], [t("admin.transfer"), "ok", "danger"]]);
        if (answer !== "ok" || !choose.value) return;
        await api.post(`/orgs/${org.org_id}/members/${member.user_id}/transfer`, {unit_id: choose.value});
        announce(t("admin.transferred"));
        redraw();
      })), button(t("admin.expel"), (event) => busy(event.currentTarget, async () => {
        if (!await confirmAction(t("admin.expelTitle", {name: member.display_name}), t("admin.expelConfirm"),
          t("admin.expel"))) return;
        await api.post(`/orgs/${org.org_id}/members/${member.user_id}/expel`);
        announce(t("admin.expelled"));
        redraw();
      })));
    }
    if ([...roles].some((role) => STAFF.has(role))) {
      if (roles.has("teacher") && !roles.has("admin")) {
        actions.append(button(t("admin.makeAdmin"), (event) => busy(event.currentTarget, async () => {
          if (!await confirmAction(t("admin.makeAdminTitle"), t("admin.makeAdminConfirm",
            {name: member.display_name}), t("admin.makeAdmin"))) return;
          await api.post(`/orgs/${org.org_id}/admins`, {user_id: member.user_id});
          redraw();
        })));
      }
      actions.append(button(t("admin.dismiss"), (event) => busy(event.currentTarget, async () => {
        if (!await confirmAction(t("admin.dismissTitle", {name: member.display_name}), t("admin.dismissConfirm"),
          t("admin.dismiss"))) return;
        await api.post(`/orgs/${org.org_id}/members/${member.user_id}/dismiss`);
        announce(t("admin.dismissed"));
        redraw();
      })));
    }
    return [personName(member), rolesCell(org, member, unitName), unitName.get(member.unit_id) || "",
      formatDate(member.joined_at), actions];
  };
  const staff = members.filter((m) => m.roles.some((role) => STAFF.has(role)));
  const students = members.filter((m) => m.roles.includes("student"));
  const parents = members.filter((m) => m.roles.includes("parent") && !m.roles.some((role) => STAFF.has(role)));
  const headers = [t("admin.person"), t("admin.roles"), t("admin.unit"), t("admin.joined"), ""];
  for (const [title, group] of [[t("admin.staff"), staff], [t("admin.students"), students],
    [t("admin.parents"), parents]]) {
    box.append(h("section", {class: "section"}, h("h2", {}, title, ` (${group.length})`),
      group.length ? table(headers, group.map(row)) : empty(t("admin.nobody"))));
  }
}

function inviteLink(url) {
  const input = h("input", {type: "text", readonly: true, value: url, class: "invite-link"});
  return h("div", {class: "invite-url"}, input, button(t("common.copy"), () => copyText(url, input), "secondary"));
}

async function invites(org, box) {
  const [list, unitList, students] = await Promise.all([all(`/orgs/${org.org_id}/invites`),
    unitsOf(org.org_id), all(`/orgs/${org.org_id}/members`, {role: "student"})]);
  const unitName = new Map(unitList.map((unit) => [unit.id, unit.name]));
  const role = select(INVITE_ROLES.map((name) => [name, roleName(name)]), {name: "role"});
  const unit = select([], {name: "unit_id"});
  const child = select(students.map((m) => [m.user_id, `${m.display_name || t("person.noName")}` +
    (m.unit_id && unitName.get(m.unit_id) ? `, ${unitName.get(m.unit_id)}` : "")]), {name: "child_user_id"});
  const maxUses = h("input", {type: "number", name: "max_uses", min: 1, max: 10000});
  const expires = h("input", {type: "date", name: "expires_at"});
  const approval = checkbox(t("admin.requiresApproval"));
  const fullName = h("input", {type: "text", name: "full_name", maxlength: 200});
  const sendTo = h("input", {type: "text", name: "send_to", maxlength: 254, autocomplete: "off",
    placeholder: "+7 900 000-00-00 / name@example.ru"});
  const unitField = field(t("admin.unit"), unit);
  const childField = field(t("admin.child"), child);
  const result = h("div", {role: "status"});
  const syncRole = () => {
    const staffRole = role.value !== "student" && role.value !== "parent";
    const options = staffRole
      ? [["", t("admin.noUnit")], ...unitList.filter((u) => u.kind === "staff_room").map((u) => [u.id, u.name])]
      : unitList.filter((u) => u.kind !== "staff_room").map((u) => [u.id, u.name]);
    unit.replaceChildren(...options.map(([value, label]) => h("option", {value}, label)));
    unitField.hidden = role.value === "parent";
    childField.hidden = role.value !== "parent";
  };
  role.addEventListener("change", syncRole);
  syncRole();
  const form = h("form", {class: "section", onsubmit: async (event) => {
    event.preventDefault();
    const body = {role: role.value, requires_approval: approval.input.checked, full_name: fullName.value.trim()};
    if (role.value === "parent") body.child_user_id = child.value || null;
    else if (unit.value) body.unit_id = unit.value;
    if (maxUses.value) body.max_uses = Number(maxUses.value);
    const destination = sendTo.value.trim();
    if (destination) body.send_to = destination.includes("@") ? {email: destination} : {phone: destination};
    if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59`).toISOString();
    try {
      const made = await api.create(`/orgs/${org.org_id}/invites`, body);
      result.replaceChildren(h("p", {class: "notice"}, t("admin.inviteMade", {role: roleName(role.value)})),
        inviteLink(made.url), h("p", {class: "muted"}, t("admin.inviteOnce")),
        made.sent_to ? h("p", {class: "notice sent"}, t("admin.inviteSent", {to: made.sent_to.to})) : null);
      result.querySelector("input").focus();
      result.querySelector("input").select();
      drawList(await all(`/orgs/${org.org_id}/invites`));
    } catch (error) {
      fieldErrors(form, error);
    }
  }}, h("h2", {}, t("admin.newInvite")),
  h("div", {class: "grid-form"}, field(t("admin.role"), role), unitField, childField,
    field(t("admin.fullName"), fullName, t("admin.fullNameHint")), field(t("admin.sendTo"), sendTo,
      t("admin.sendToHint")), field(t("admin.maxUses"), maxUses),
    field(t("admin.expires"), expires, t("admin.expiresHint"))),
  approval, h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("admin.makeInvite"))),
  result);
  const listBox = h("div");
  const drawList = (items) => {
    const rows = items.map((invite) => [roleName(invite.role), unitName.get(invite.unit_id) || "",
      `${invite.uses}${invite.max_uses ? ` / ${invite.max_uses}` : ""}`, formatDate(invite.expires_at),
      invite.revoked ? t("admin.revoked") : new Date(invite.expires_at) < new Date() ? t("admin.expired")
        : t("admin.active"),
      invite.revoked ? "" : button(t("admin.revoke"), (event) => busy(event.currentTarget, async () => {
        if (!await confirmAction(t("admin.revokeTitle"), t("admin.revokeConfirm"), t("admin.revoke"))) return;
        await api.del(`/orgs/${org.org_id}/invites/${invite.id}`);
        drawList(await all(`/orgs/${org.org_id}/invites`));
      }))]);
    listBox.replaceChildren(rows.length ? table([t("admin.role"), t("admin.unit"), t("admin.uses"),
      t("admin.expires"), t("admin.state"), ""], rows) : empty(t("admin.noInvites")));
  };
  drawList(list);
  const revokeUnused = button(t("admin.revokeUnused"), (event) => busy(event.currentTarget, async () => {
    if (!await confirmAction(t("admin.revokeUnusedTitle"), t("admin.revokeUnusedConfirm"),
      t("admin.revokeUnused"))) return;
    const answer = await api.post(`/orgs/${org.org_id}/invites/revoke-unused`);
    announce(t("admin.revokedCount", {n: answer.revoked}));
    drawList(await all(`/orgs/${org.org_id}/invites`));
  }), "secondary");
  box.append(form, h("section", {class: "section"}, h("div", {class: "row"}, h("h2", {}, t("admin.invitesTitle")),
    revokeUnused), listBox));
}

async function requests(org, box) {
  const list = await all(`/orgs/${org.org_id}/join-requests`, {status: "pending"});
  const rows = list.map((item) => [h("code", {}, item.user_id), roleName(item.role), formatTime(item.created_at),
    h("div", {class: "row"},
      button(t("admin.approve"), (event) => busy(event.currentTarget, async () => {
        await api.post(`/orgs/${org.org_id}/join-requests/${item.id}/approve`);
        announce(t("admin.approved"));
        redraw();
      }), "primary"),
      button(t("admin.reject"), (event) => busy(event.currentTarget, async () => {
        if (!await confirmAction(t("admin.rejectTitle"), t("admin.rejectRequestConfirm"), t("admin.reject"))) return;
        await api.post(`/orgs/${org.org_id}/join-requests/${item.id}/reject`);
        redraw();
      })))]);
  box.append(h("section", {class: "section"}, h("h2", {}, t("admin.requestsTitle")),
    h("p", {class: "muted"}, t("admin.requestsLead")),
    rows.length ? table([t("admin.user"), t("admin.role"), t("admin.when"), ""], rows) : empty(t("admin.noRequests"))));
}

async function verifications(org, box) {
  const list = await all(`/orgs/${org.org_id}/verifications`, {status: "pending"});
  const rows = list.map((item) => [item.display_name || t("person.noName"), formatTime(item.created_at),
    h("div", {class: "row"},
      button(t("admin.confirmTeacher"), (event) => busy(event.currentTarget, async () => {
        await api.post(`/verifications/${item.id}/approve`);
        announce(t("admin.teacherConfirmed", {name: item.display_name}));
        redraw();
      }), "primary", {dataset: {verification: item.id}}),
      button(t("admin.reject"), (event) => busy(event.currentTarget, async () => {
        if (!await confirmAction(t("admin.rejectTitle"), t("admin.rejectTeacherConfirm"), t("admin.reject"))) return;
        await api.post(`/verifications/${item.id}/reject`);
        redraw();
      })))]);
  box.append(h("section", {class: "section"}, h("h2", {}, t("admin.verificationsTitle")),
    h("p", {class: "muted"}, t("admin.verificationsLead")),
    rows.length ? table([t("admin.person"), t("admin.when"), ""], rows) : empty(t("admin.noVerifications"))));
}

async function roster(org, box) {
  const input = h("input", {type: "file", accept: ".csv,text/csv", name: "file", required: true});
  const progress = h("progress", {max: 100, value: 0, hidden: true, "aria-label": t("admin.rosterProgress")});
  const status = h("div", {role: "status"});
  const form = h("form", {class: "section", onsubmit: async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return;
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    status.replaceChildren(h("p", {}, t("admin.rosterUploading")));
    try {
      let job = await upload(`/orgs/${org.org_id}/roster-imports`, file, (loaded, total) => {
        progress.max = total;
        progress.value = loaded;
      });
      for (let round = 0; round < 600 && !["done", "failed"].includes(job.status); round += 1) {
        status.replaceChildren(h("p", {}, t("admin.rosterChecking", {done: job.processed_rows || 0,
          total: job.total_rows || 0})));
        progress.max = Math.max(job.total_rows || 1, 1);
        progress.value = job.processed_rows || 0;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        job = await api.get(`/orgs/${org.org_id}/roster-imports/${job.id}`);
      }
      progress.value = progress.max;
      if (job.status === "failed") {
        status.replaceChildren(h("p", {class: "error"}, t("admin.rosterFailed")),
          h("ul", {class: "errors"}, (job.errors || []).map((item) => h("li", {},
            item.line ? t("admin.rosterLine", {line: item.line, error: item.error}) : item.error))));
      } else {
        const rows = ((job.result && job.result.rows) || []).map((line) => [line.class, line.student,
          inviteLink(`${location.origin}/join/${line.student_invite_token}`), line.parent || "",
          line.parent_invite_token ? inviteLink(`${location.origin}/join/${line.parent_invite_token}`) : ""]);
        status.replaceChildren(h("p", {class: "notice"}, t("admin.rosterDone", {n: rows.length})),
          h("p", {class: "muted"}, t("admin.inviteOnce")),
          table([t("admin.unit"), t("admin.student"), t("admin.link"), t("admin.parent"), t("admin.link")], rows));
      }
    } catch (error) {
      status.replaceChildren(h("p", {class: "error"}, errorText(error)));
    } finally {
      submit.disabled = false;
    }
  }}, h("h2", {}, t("admin.rosterTitle")), h("p", {}, t("admin.rosterLead")),
  h("pre", {class: "sample"}, "class,grade,student,parent,parent_phone\n5А,5,Иванов Иван,Иванова Мария,+79001234567"),
  field(t("admin.rosterFile"), input), h("div", {class: "actions"},
    h("button", {type: "submit", class: "primary"}, t("admin.rosterImport"))), progress, status);
  box.append(form);
}

function shownCount(value, below) {
  return value === null || value === undefined ? t("stats.hidden", {n: below}) : String(value);
}

const ACTIVE_ROLES = ["teacher", "student", "parent", "admin", "director", "deputy"];

async function stats(org, box) {
  const report = await api.get(`/orgs/${org.org_id}/stats`);
  const weeks = report.weeks || [];
  const below = report.suppressed_below;
  const activeRows = [...weeks].reverse().map((week) => [formatDate(week.week),
    ...["all", ...ACTIVE_ROLES].map((role) => shownCount(week.active && week.active[role], below))]);
  const dayRows = (report.days || []).slice(-7).reverse().map((day) => [formatDate(day.day),
    ...["all", ...ACTIVE_ROLES].map((role) => shownCount(day.active && day.active[role], below))]);
  const roleHeads = [t("stats.all"), ...ACTIVE_ROLES.map(roleName)];
  const unitRows = (report.units || []).map((unit) => [unit.name, unit.messages, unit.calls, unit.call_minutes]);
  box.append(h("section", {class: "section"}, h("h2", {}, t("admin.statsTitle")),
    h("p", {class: "muted"}, t("admin.statsPeriod", {from: formatDate(report.from), to: formatDate(report.to)})),
    h("p", {class: "notice pending"}, t("stats.pending", {n: shownCount(report.pending_requests, below)})),
    weeklyBars(weeks, [{key: "messages", name: t("stats.messages"), className: "bar-messages"}],
      t("stats.messagesByWeek")),
    weeklyBars(weeks, [{key: "joins", name: t("stats.joins"), className: "bar-joins"},
      {key: "calls", name: t("stats.calls"), className: "bar-calls"}], t("stats.joinsByWeek")),
    horizontalBars(Object.entries(report.members_by_role || {}).filter(([, value]) => value !== null)
      .map(([role, value]) => ({label: roleName(role), value})), t("stats.byRole")),
    horizontalBars((report.members_by_unit || []).filter((unit) => unit.members !== null)
      .map((unit) => ({label: unit.name, value: unit.members})), t("stats.byUnit"))),
  h("section", {class: "section", dataset: {stats: "active"}}, h("h2", {}, t("stats.activeTitle")),
    h("p", {class: "muted"}, t("stats.activeLead", {n: below})),
    table([t("stats.week"), ...roleHeads], activeRows), table([t("stats.day"), ...roleHeads], dayRows)),
  h("section", {class: "section", dataset: {stats: "units"}}, h("h2", {}, t("stats.unitsTitle")),
    unitRows.length ? table([t("admin.unit"), t("stats.messages"), t("stats.calls"), t("stats.callMinutes")],
      unitRows) : empty(t("admin.nobody"))));
}

async function year(org, box) {
  const finalGrade = h("input", {type: "number", name: "final_grade", min: 1, max: 12, placeholder: "11"});
  const academicYear = h("input", {type: "text", name: "academic_year", placeholder: "2027/2028"});
  const plan = h("div", {role: "status"});
  const body = () => ({final_grade: finalGrade.value ? Number(finalGrade.value) : null,
    academic_year: academicYear.value.trim() || null});
  const showPlan = (found) => {
    const promoted = found.promoted.map((row) => h("li", {}, `${row.name} → ${row.new_name}`));
    const graduating = found.graduating.map((row) => h("li", {}, `${row.name}: `,
      t("admin.planStudents", {n: row.students})));
    const confirm = button(t("admin.confirmYear", {year: found.academic_year}), (event) => busy(event.currentTarget,
      async () => {
        if (!await confirmAction(t("admin.confirmYearTitle", {year: found.academic_year}),
          t("admin.confirmYearText"), t("admin.confirmYear", {year: found.academic_year}))) return;
        try {
          await api.post(`/orgs/${org.org_id}/rollover`, {...body(), dry_run: false, plan_id: found.plan_id});
          announce(t("admin.yearDone", {year: found.academic_year}));
          redraw();
        } catch (error) {
          if (error.code === "plan_changed") showPlan(error.details.plan);
          announce(errorText(error), "error");
        }
      }), "danger", {disabled: found.conflicts.length > 0});
    plan.replaceChildren(h("h3", {}, t("admin.planPromoted")), promoted.length ? h("ul", {class: "plan-promoted"},
      promoted) : empty(t("admin.nobody")),
    h("h3", {}, t("admin.planGraduating")), graduating.length ? h("ul", {class: "plan-graduating"}, graduating)
      : empty(t("admin.nobody")),
    h("p", {}, t("admin.planParents", {n: found.parents_leaving})),
    found.unchanged.length ? [h("h3", {}, t("admin.planUnchanged")),
      h("ul", {}, found.unchanged.map((row) => h("li", {}, row.name)))] : null,
    found.conflicts.length ? h("p", {class: "error"}, t("admin.planConflicts",
      {names: found.conflicts.map((row) => row.name).join(", ")})) : null,
    h("div", {class: "actions"}, confirm));
  };
  const form = h("form", {class: "section", onsubmit: async (event) => {
    event.preventDefault();
    try {
      showPlan(await api.post(`/orgs/${org.org_id}/rollover`, {...body(), dry_run: true}));
    } catch (error) {
      fieldErrors(form, error);
    }
  }}, h("h2", {}, t("admin.yearTitle")), h("p", {class: "muted"}, t("admin.yearLead")),
  h("div", {class: "grid-form"}, field(t("admin.finalGrade"), finalGrade), field(t("admin.newYear"), academicYear)),
  h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("admin.showPlan"))), plan);
  box.append(form);
}

const DRAW = {school, units, teaching, people, invites, requests, verifications, roster, stats, year};
let redraw = () => {};

export async function adminPage({orgId, section}, main) {
  const orgs = store.adminOrgs();
  document.title = t("admin.title");
  if (!orgs.length) {
    main.append(h("h1", {}, t("admin.title")), h("p", {}, t("admin.notAdmin")));
    return null;
  }
  const org = orgs.find((item) => item.org_id === orgId);
  if (!org) {
    navigate(`/admin/${orgs[0].org_id}`, {replace: true});
    return null;
  }
  const current = SECTIONS.includes(section) ? section : "school";
  const isAdmin = org.roles.includes("admin");
  const allowed = isAdmin ? SECTIONS : ["stats"];
  const shown = allowed.includes(current) ? current : allowed[0];
  const tabs = h("ul", {class: "tabs"}, allowed.map((name) => h("li", {},
    h("a", {href: `/admin/${org.org_id}/${name}`, "aria-current": name === shown ? "page" : null},
      t(`admin.tab.${name}`)))));
  const box = h("div", {class: "admin-section"}, loading());
  main.append(h("h1", {}, t("admin.heading", {org: org.name})),
    orgs.length > 1 ? h("p", {}, orgs.filter((o) => o !== org).map((o) =>
      h("a", {href: `/admin/${o.org_id}`}, o.name))) : "",
    h("nav", {"aria-label": t("admin.sections")}, tabs), box);
  redraw = async () => {
    const fresh = h("div", {class: "admin-section"});
    try {
      await DRAW[shown](org, fresh);
      box.replaceChildren(...fresh.childNodes);
    } catch (error) {
      box.replaceChildren(h("p", {class: "error", role: "alert"}, errorText(error)));
    }
  };
  await redraw();
  return () => { redraw = () => {}; };
}
