// The operator's console: registration applications by status, the attached
// appointment document, approval or rejection with a reason, and archiving an
// organisation that left the platform.
import {formatTime, t} from "../i18n.js";
import {all, api, download} from "../api.js";
import {announce, askText, busy, button, confirmAction, errorText, h} from "../dom.js";
import {session} from "../session.js";
import {empty, loading} from "./common.js";

const STATUSES = ["pending", "approved", "rejected"];

async function openDocument(application) {
  await download(`/applications/${application.id}/document`, `document-${application.id}`);
}

function applicationView(application, regions, redraw) {
  const actions = h("div", {class: "row"});
  if (application.has_document) {
    actions.append(button(t("operator.document"), (event) => busy(event.currentTarget, async () => {
      try {
        await openDocument(application);
      } catch (error) {
        announce(error.status === 404 || error.status === 403 ? t("operator.documentUnavailable")
          : errorText(error), "error");
      }
    }), "secondary"));
  }
  if (application.status === "pending") {
    actions.append(
      button(t("operator.approve"), (event) => busy(event.currentTarget, async () => {
        if (!await confirmAction(t("operator.approveTitle"), t("operator.approveConfirm",
          {org: application.org.name, phone: application.admin.phone}), t("operator.approve"))) return;
        await api.post(`/applications/${application.id}/approve`);
        announce(t("operator.approved", {org: application.org.name}));
        redraw();
      }), "primary"),
      button(t("operator.reject"), (event) => busy(event.currentTarget, async () => {
        const reason = await askText(t("operator.rejectTitle"), t("operator.reason"), {multiline: true});
        if (!reason) return;
        await api.post(`/applications/${application.id}/reject`, {reason});
        announce(t("operator.rejected"));
        redraw();
      })));
  }
  if (application.status === "approved" && application.org_id) {
    actions.append(button(t("operator.archive"), (event) => busy(event.currentTarget, async () => {
      if (!await confirmAction(t("operator.archiveTitle"), t("operator.archiveConfirm", {org: application.org.name}),
        t("operator.archive"))) return;
      await api.post(`/orgs/${application.org_id}/archive`);
      announce(t("operator.archived"));
    })));
  }
  return h("li", {class: "application", dataset: {applicationId: application.id}},
    h("h3", {}, application.org.name, " ", h("span", {class: "tag"}, t(`orgKind.${application.org.kind}`))),
    h("dl", {class: "facts"},
      h("dt", {}, t("operator.region")), h("dd", {}, regions.get(application.region_id) || application.region_id),
      h("dt", {}, t("operator.admin")), h("dd", {}, application.admin.full_name),
      h("dt", {}, t("operator.phone")), h("dd", {}, application.admin.phone),
      application.admin.email ? [h("dt", {}, t("operator.email")), h("dd", {}, application.admin.email)] : null,
      h("dt", {}, t("operator.filed")), h("dd", {}, formatTime(application.created_at)),
      h("dt", {}, t("operator.status")), h("dd", {class: "status"}, t(`operator.status.${application.status}`)),
      application.reason ? [h("dt", {}, t("operator.reasonShown")), h("dd", {}, application.reason)] : null,
      application.has_document ? null : [h("dt", {}, t("operator.document")),
        h("dd", {}, t("operator.noDocument"))]),
    actions);
}

export async function operatorPage(params, main) {
  document.title = t("operator.title");
  main.append(h("h1", {}, t("operator.title")));
  if (!session.operator) {
    main.append(h("p", {}, t("operator.notOperator")));
    return null;
  }
  const status = new URLSearchParams(location.search).get("status") || "pending";
  main.append(h("nav", {"aria-label": t("operator.byStatus")}, h("ul", {class: "tabs"}, STATUSES.map((name) =>
    h("li", {}, h("a", {href: `/operator?status=${name}`, "aria-current": name === status ? "page" : null},
      t(`operator.tab.${name}`)))))));
  const box = h("section", {class: "section"}, loading());
  main.append(box);
  const redraw = async () => {
    try {
      const [items, regionList] = await Promise.all([all("/applications", {status}), all("/regions")]);
      const regions = new Map(regionList.map((region) => [region.id, region.name]));
      box.replaceChildren(items.length
        ? h("ul", {class: "applications"}, items.map((item) => applicationView(item, regions, redraw)))
        : empty(t("operator.none")));
    } catch (error) {
      box.replaceChildren(h("p", {class: "error"}, errorText(error)));
    }
  };
  await redraw();
  return null;
}
