// Sign-in by a one-time code: to a phone, or to a parent's e-mail address for
// young students, each child into their own account (the page asks whose when
// several share the address). In dev mode (no SMS is sent) the page says
// where the code is.
import {t} from "../i18n.js";
import {api, ApiError} from "../api.js";
import {announce, checkbox, errorText, field, h} from "../dom.js";
import {navigate} from "../router.js";
import {session, setUser, signIn} from "../session.js";

export function signInForm(onDone) {
  const box = h("div", {class: "signin"});
  let destination = null;  // {phone} or {email}
  let newAccount = false;  // another child on the parent's address
  let resendTimer = 0;

  function step(...children) {
    box.replaceChildren(...children);
    const first = box.querySelector("input");
    if (first) first.focus();
  }

  function askDestination() {
    const byEmail = checkbox(t("signin.byEmail"));
    const input = h("input", {type: "tel", name: "phone", autocomplete: "tel", inputmode: "tel",
      required: true, placeholder: "+7 900 000-00-00"});
    const phoneField = field(t("signin.phone"), input, t("signin.phoneHint"));
    const label = phoneField.querySelector("label");
    byEmail.input.addEventListener("change", () => {
      const email = byEmail.input.checked;
      input.type = email ? "email" : "tel";
      input.name = email ? "email" : "phone";
      input.autocomplete = email ? "email" : "tel";
      input.inputMode = email ? "email" : "tel";
      input.placeholder = email ? "parent@example.ru" : "+7 900 000-00-00";
      label.textContent = email ? t("signin.email") : t("signin.phone");
      phoneField.querySelector(".hint").textContent = email ? t("signin.emailHint") : t("signin.phoneHint");
    });
    const another = checkbox(t("signin.newAccount"));
    another.hidden = true;
    byEmail.input.addEventListener("change", () => { another.hidden = !byEmail.input.checked; });
    const submit = h("button", {type: "submit", class: "primary"}, t("signin.sendCode"));
    const form = h("form", {class: "form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) {
        phoneField.setError(t("signin.required"));
        return;
      }
      const email = byEmail.input.checked;
      submit.disabled = true;
      try {
        await api.post(email ? "/auth/email-otp" : "/auth/otp", email ? {email: value} : {phone: value});
        destination = email ? {email: value} : {phone: value};
        newAccount = email && another.input.checked;
        askCode();
      } catch (error) {
        phoneField.setError(error instanceof ApiError && error.fieldErrors()[email ? "email" : "phone"]
          ? t(email ? "signin.badEmail" : "signin.badPhone") : errorText(error));
      } finally {
        submit.disabled = false;
      }
    }}, phoneField, byEmail, another, submit);
    step(form);
  }

  async function finish(credentials) {
    const choice = await signIn(credentials);
    if (choice) {
      chooseAccount(credentials, choice.accounts);
      return;
    }
    clearInterval(resendTimer);
    const me = await api.get("/me");
    if (!me.display_name) askName();
    else onDone();
  }

  // Several children on the parent's address: whose account opens now.
  function chooseAccount(credentials, accounts) {
    const error = h("p", {class: "field-error", role: "alert", hidden: true});
    const pick = (accountId) => async (event) => {
      event.currentTarget.disabled = true;
      try {
        await finish({...credentials, account_id: accountId});
      } catch (failure) {
        error.textContent = errorText(failure);
        error.hidden = false;
      }
    };
    step(h("div", {class: "form accounts"}, h("h2", {}, t("signin.chooseTitle")), h("p", {}, t("signin.chooseLead")),
      h("ul", {class: "choices"}, accounts.map((account) => h("li", {}, h("button", {type: "button",
        class: "secondary", dataset: {account: account.id}, onclick: pick(account.id)},
      account.display_name || t("person.noName")))),
      h("li", {}, h("button", {type: "button", class: "link", dataset: {account: "new"}, onclick: pick("new")},
        t("signin.chooseNew")))), error));
  }

  async function devHint(hint) {
    const to = destination.phone || destination.email;
    try {
      const outbox = await api.get("/dev/outbox", {to});
      const where = `/api/v1/dev/outbox?to=${encodeURIComponent(to)}`;
      const latest = outbox.items && outbox.items.find((item) => item.code);
      hint.replaceChildren(
        h("strong", {}, t("signin.devTitle")), " ", t("signin.devText"), " ",
        h("a", {href: where, target: "_blank", rel: "noopener"}, where),
        latest ? h("span", {}, " ", t("signin.devCode", {code: latest.code})) : "");
      hint.hidden = false;
    } catch {
      hint.hidden = true;  // not dev mode: the code went by SMS or e-mail
    }
  }

  function askCode() {
    const input = h("input", {type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code",
      pattern: "[0-9]{6}", maxlength: 6, required: true});
    const codeField = field(t("signin.code"), input,
      destination.phone ? t("signin.codeSentPhone", {to: destination.phone})
        : t("signin.codeSentEmail", {to: destination.email}));
    const hint = h("p", {class: "devhint", hidden: true});
    const submit = h("button", {type: "submit", class: "primary"}, t("signin.enter"));
    const resend = h("button", {type: "button", class: "link", disabled: true}, t("signin.resend"));
    const back = h("button", {type: "button", class: "link", onclick: () => askDestination()}, t("signin.other"));
    let wait = 60;
    clearInterval(resendTimer);
    resendTimer = setInterval(() => {
      wait -= 1;
      resend.textContent = wait > 0 ? t("signin.resendIn", {n: wait}) : t("signin.resend");
      resend.disabled = wait > 0;
      if (wait <= 0) clearInterval(resendTimer);
    }, 1000);
    resend.addEventListener("click", async () => {
      try {
        await api.post(destination.phone ? "/auth/otp" : "/auth/email-otp", destination);
        announce(t("signin.resent"));
        askCode();
      } catch (error) {
        announce(errorText(error), "error");
      }
    });
    const form = h("form", {class: "form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const code = input.value.replace(/\D/g, "");
      if (code.length !== 6) {
        codeField.setError(t("signin.codeDigits"));
        return;
      }
      submit.disabled = true;
      try {
        await finish({...destination, code, ...(newAccount ? {account_id: "new"} : {})});
      } catch (error) {
        codeField.setError(error.code === "invalid_code" || error.code === "validation_error"
          ? t("error.invalid_code") : errorText(error));
        submit.disabled = false;
      }
    }}, codeField, hint, submit, h("div", {class: "row"}, resend, back));
    step(form);
    devHint(hint);
  }

  function askName() {
    const input = h("input", {type: "text", name: "name", autocomplete: "name", maxlength: 100, required: true});
    const nameField = field(t("signin.name"), input, t("signin.nameHint"));
    const submit = h("button", {type: "submit", class: "primary"}, t("common.continue"));
    step(h("form", {class: "form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        nameField.setError(t("signin.required"));
        return;
      }
      submit.disabled = true;
      try {
        const me = await api.patch("/me", {display_name: name});
        setUser({display_name: me.display_name});
        onDone();
      } catch (error) {
        nameField.setError(errorText(error));
        submit.disabled = false;
      }
    }}, nameField, submit));
  }

  askDestination();
  box.cleanup = () => clearInterval(resendTimer);
  return box;
}

async function supportLine() {
  const line = h("p", {class: "muted support-line"});
  try {
    const support = await api.get("/support");
    if (support.configured) {
      line.append(t("signin.support"), ": ", [support.email, support.phone].filter(Boolean).join(", "),
        support.instructions_url ? [" · ", h("a", {href: support.instructions_url, target: "_blank",
          rel: "noopener noreferrer"}, t("profile.supportInstructions"))] : "");
    }
  } catch {
    line.hidden = true;
  }
  return line;
}

export async function signInPage(params, main) {
  document.title = t("signin.title");
  const target = location.pathname === "/signin" ? "/chats" : location.pathname + location.search;
  const form = signInForm(() => navigate(target, {replace: true}));
  main.append(h("section", {class: "card narrow"},
    h("h1", {}, t("signin.title")), h("p", {class: "lead"}, t("signin.lead")), form, await supportLine()));
  if (session.signedIn && location.pathname === "/signin") navigate("/chats", {replace: true});
  return form.cleanup;
}
