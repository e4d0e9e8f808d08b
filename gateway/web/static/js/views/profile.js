// My profile: my name, my schools and roles, asking for the teacher status,
// my personal data (download it, ask for its erasure, for me or my child),
// the application to connect an organisation to the platform, my
// applications with the operator's decision, and where to find support.
import {formatDate, formatTime, t} from "../i18n.js";
import {all, api, download, upload} from "../api.js";
import {announce, busy, button, confirmAction, errorText, field, h} from "../dom.js";
import {setUser} from "../session.js";
import {store} from "../store.js";
import {roleName} from "./common.js";

function nameForm(me) {
  const input = h("input", {type: "text", name: "display_name", value: me.display_name || "", maxlength: 100,
    required: true, autocomplete: "name"});
  const wrap = field(t("profile.name"), input, t("signin.nameHint"));
  return h("form", {class: "section form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const updated = await api.patch("/me", {display_name: input.value.trim()});
      store.me = {...store.me, ...updated};
      setUser({display_name: updated.display_name});
      announce(t("admin.saved"));
    } catch (error) {
      wrap.setError(errorText(error));
    }
  }}, h("h2", {}, t("profile.me")),
  h("p", {class: "muted"}, me.phone ? t("profile.phone", {phone: me.phone}) : t("profile.email", {email: me.email || ""})),
  me.teacher_verified ? h("p", {}, h("span", {class: "teacher-badge"}, t("person.teacherBadge")), " ",
    t("profile.verified")) : null,
  wrap, h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("common.save"))));
}

function orgsSection(me) {
  if (!store.orgs.length) return h("section", {class: "section"}, h("h2", {}, t("profile.orgs")),
    h("p", {}, t("chats.noSchoolHelp")));
  return h("section", {class: "section"}, h("h2", {}, t("profile.orgs")), h("ul", {}, store.orgs.map((org) => {
    const teacher = org.roles.some((role) => ["teacher", "director", "deputy"].includes(role));
    return h("li", {}, h("strong", {}, org.name), " — ", org.roles.map(roleName).join(", "),
      teacher && !me.teacher_verified ? [" ", button(t("profile.askVerification"), (event) =>
        busy(event.currentTarget, async () => {
          try {
            await api.post("/verifications", {org_id: org.org_id});
            announce(t("profile.verificationAsked"));
          } catch (error) {
            announce(error.code === "already_requested" ? t("profile.verificationAsked") : errorText(error),
              error.code === "already_requested" ? "info" : "error");
          }
        }), "secondary")] : null);
  })));
}

// Whose erasure is waiting, if any: null, or {erase_at, ...}.
async function waitingErasure(path) {
  try {
    return await api.get(path);
  } catch (error) {
    if (error.code === "no_erasure_pending") return null;
    throw error;
  }
}

// One person's erasure (mine, or my child's): ask for it, or cancel it within the grace period.
function erasureBox(person, paths) {
  const box = h("div", {class: "erasure", dataset: {userId: person.id}});
  const draw = (waiting) => {
    if (waiting) {
      box.replaceChildren(h("p", {class: "notice erasure-pending"}, t(person.self ? "privacy.pending"
        : "privacy.childPending", {date: formatDate(waiting.erase_at), name: person.name})),
      button(t("privacy.cancel"), (event) => busy(event.currentTarget, async () => {
        await api.del(paths.waiting);
        announce(t("privacy.cancelled"));
        draw(null);
      }), "secondary"));
      return;
    }
    box.replaceChildren(button(t(person.self ? "privacy.erase" : "privacy.eraseChild", {name: person.name}),
      (event) => busy(event.currentTarget, async () => {
        if (!await confirmAction(t("privacy.eraseTitle"), t(person.self ? "privacy.eraseConfirm"
          : "privacy.eraseChildConfirm", {name: person.name}), t("privacy.eraseConfirmButton"))) return;
        try {
          draw(await api.del(paths.ask));
        } catch (error) {
          announce(error.code === "sole_admin" ? t("privacy.soleAdmin") : errorText(error), "error");
        }
      }), "danger"));
  };
  waitingErasure(paths.waiting).then(draw, (error) => box.replaceChildren(h("p", {class: "error"},
    errorText(error))));
  return box;
}

// Personal data (152-FZ): everything held about me in one file, and erasure on request.
async function privacySection(me) {
  const section = h("section", {class: "section privacy"}, h("h2", {}, t("privacy.title")),
    h("p", {class: "muted"}, t("privacy.exportLead")),
    button(t("privacy.export"), (event) => busy(event.currentTarget,
      () => download("/me/export", `sferum-data-${me.id}.json`)), "secondary"),
    h("p", {class: "muted"}, t("privacy.eraseLead")),
    erasureBox({id: me.id, self: true}, {ask: "/me", waiting: "/me/erasure"}));
  const children = [...new Set(store.orgs.flatMap((org) => org.children || []))];
  for (const childId of children) {
    const child = await api.get(`/users/${childId}`).catch(() => null);
    if (child) {
      section.append(erasureBox({id: childId, name: child.display_name || t("person.noName")},
        {ask: `/users/${childId}`, waiting: `/users/${childId}/erasure`}));
    }
  }
  return section;
}

async function applicationForm(onSent) {
  const regions = await all("/regions");
  const region = h("select", {name: "region_id", required: true},
    regions.map((item) => h("option", {value: item.id}, item.name)));
  const name = h("input", {type: "text", name: "name", required: true, maxlength: 300});
  const kind = h("select", {name: "kind"}, ["school", "college", "additional"].map((value) =>
    h("option", {value}, t(`orgKind.${value}`))));
  const fullName = h("input", {type: "text", name: "full_name", required: true, maxlength: 200, autocomplete: "name"});
  const phone = h("input", {type: "tel", name: "phone", required: true, autocomplete: "tel"});
  const email = h("input", {type: "email", name: "email", maxlength: 254, autocomplete: "email"});
  const documentInput = h("input", {type: "file", name: "document", accept: ".pdf,.jpg,.jpeg,.png"});
  const progress = h("progress", {hidden: true, max: 1, value: 0, "aria-label": t("profile.documentUpload")});
  const status = h("div", {role: "status"});
  const form = h("form", {class: "section", onsubmit: async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    await busy(submit, async () => {
      const admin = {full_name: fullName.value.trim(), phone: phone.value.trim()};
      if (email.value.trim()) admin.email = email.value.trim();
      const made = await api.post("/applications", {region_id: region.value,
        org: {name: name.value.trim(), kind: kind.value}, admin});
      // The appointment order goes to the application itself, for the operator reviewing it.
      if (documentInput.files[0]) {
        progress.hidden = false;
        await upload(`/applications/${made.id}/document`, documentInput.files[0], (loaded, total) => {
          progress.max = total;
          progress.value = loaded;
        });
      }
      status.replaceChildren(h("p", {class: "notice"}, t("profile.applicationSent", {id: made.id})));
      form.reset();
      await onSent();
    });
  }}, h("h2", {}, t("profile.applyTitle")), h("p", {class: "muted"}, t("profile.applyLead")),
  h("div", {class: "grid-form"}, field(t("profile.region"), region), field(t("admin.orgName"), name),
    field(t("profile.kind"), kind), field(t("profile.adminName"), fullName),
    field(t("profile.adminPhone"), phone, t("profile.adminPhoneHint")),
    field(t("profile.adminEmail"), email, t("profile.adminEmailHint")),
    field(t("profile.document"), documentInput, t("profile.documentHint"))),
  progress, h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("profile.apply"))),
  status);
  return form;
}

async function drawApplications(box) {
  const mine = await all("/me/applications");
  box.replaceChildren(h("h2", {}, t("profile.myApplications")), mine.length
    ? h("ul", {class: "applications"}, mine.map((item) => h("li", {class: "application", dataset: {status: item.status}},
      h("strong", {}, item.org.name), " — ", h("span", {class: "status"}, t(`profile.status.${item.status}`)), " ",
      h("span", {class: "muted"}, formatTime(item.created_at)),
      item.has_document ? h("span", {class: "muted"}, " · ", t("profile.documentAttached")) : null,
      item.reject_reason ? h("p", {class: "reject-reason"}, t("profile.rejectReason", {reason: item.reject_reason}))
        : null)))
    : h("p", {class: "muted"}, t("profile.noApplications")));
}

export async function supportSection() {
  const support = await api.get("/support");
  const lines = [];
  if (support.email) lines.push(h("li", {}, t("profile.supportEmail", {email: support.email})));
  if (support.phone) lines.push(h("li", {}, t("profile.supportPhone", {phone: support.phone})));
  if (support.instructions_url) {
    lines.push(h("li", {}, h("a", {href: support.instructions_url, target: "_blank", rel: "noopener noreferrer"},
      t("profile.supportInstructions"))));
  }
  return h("section", {class: "section support"}, h("h2", {}, t("profile.support")),
    lines.length ? h("ul", {}, lines) : h("p", {class: "muted"}, t("profile.supportNone")));
}

export async function profilePage(params, main) {
  document.title = t("profile.title");
  const me = store.me || await api.get("/me");
  main.append(h("h1", {}, t("profile.title")), nameForm(me), orgsSection(me), await privacySection(me));
  try {
    const applications = h("section", {class: "section", dataset: {section: "applications"}});
    await drawApplications(applications);
    main.append(applications, await applicationForm(() => drawApplications(applications)), await supportSection());
  } catch (error) {
    main.append(h("p", {class: "error"}, errorText(error)));
  }
  return null;
}
