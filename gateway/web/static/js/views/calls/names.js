// How a call is named where it is shown.
import {t} from "../../i18n.js";

export function callTitle(call) {
  return call.title || t(`call.kind.${call.kind}`);
}
