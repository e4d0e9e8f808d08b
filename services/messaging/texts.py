"""What the platform itself says to users in chats: titles of official chats,
their default rules and the notices it posts. Users are Russian-speaking."""
from datetime import date, datetime, timedelta, timezone

DEFAULT_RULES = [
    "Общаемся вежливо и уважительно, без оскорблений и травли.",
    "Не размещаем рекламу, спам и платные услуги.",
    "Не публикуем личные данные других людей: телефоны, адреса, ссылки на соцсети.",
    "Пишем по делу и не пишем поздно вечером без крайней необходимости.",
]

SCHOOL_CHANNEL = "Объявления школы"
STAFF_CHANNEL = "Объявления для сотрудников"
TEACHERS_CHAT = "Учительская"


def school_channel_description(support) -> str:
    """The announcements channel's description: where to turn for help."""
    contacts = ", ".join(filter(None, (f"почта {support.email}" if support.email else "",
                                       f"телефон {support.phone}" if support.phone else "")))
    lines = ["Официальные объявления школы."]
    if contacts:
        lines.append(f"Техническая поддержка: {contacts}.")
    if support.instructions_url:
        lines.append(f"Инструкции: {support.instructions_url}")
    return "\n".join(lines)


def class_students_chat(unit_name: str) -> str:
    return f"{unit_name}: ученики"


def class_parents_chat(unit_name: str) -> str:
    return f"{unit_name}: родители"


def class_teachers_chat(unit_name: str) -> str:
    return f"{unit_name}: учителя класса"


def rules_reminder(rules: list[str]) -> str:
    listed = "\n".join(f"{number}. {rule}" for number, rule in enumerate(rules, 1))
    return "Напоминаем правила чата:\n" + listed


# A call's kind in a notice, and its grammatical gender (the verbs agree with it).
CALL_KINDS = {"direct": ("звонок", "m"), "group": ("видеозвонок", "m"), "lesson": ("урок", "m"),
              "meeting": ("собрание", "n"), "broadcast": ("трансляция", "f")}
# Schools' regions lie in many time zones; a notice names Moscow time, the
# country's reference, and the client shows the call's own time in the user's.
MOSCOW = timezone(timedelta(hours=3))


def call_started(kind: str) -> str:
    return "Начался видеозвонок" if kind != "meeting" else "Началось собрание"


def _agreed(kind: str, masculine: str, neuter: str, feminine: str, title: str) -> tuple[str, str]:
    noun, gender = CALL_KINDS.get(kind, ("видеозвонок", "m"))
    verb = {"m": masculine, "n": neuter, "f": feminine}[gender]
    return (f"{noun} «{title}»" if title else noun), verb


def _moscow(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).astimezone(MOSCOW).strftime("%d.%m.%Y в %H:%M (МСК)")


def call_scheduled(kind: str, title: str, at: datetime, moved: bool) -> str:
    if moved:
        what, verb = _agreed(kind, "перенесён", "перенесено", "перенесена", title)
        return f"{what[0].upper()}{what[1:]} {verb} на {_moscow(at)}"
    what, verb = _agreed(kind, "Запланирован", "Запланировано", "Запланирована", title)
    return f"{verb} {what}: {_moscow(at)}"


def call_cancelled(kind: str, title: str) -> str:
    what, verb = _agreed(kind, "Отменён", "Отменено", "Отменена", title)
    return f"{verb} {what}"


def call_missed() -> str:
    return "Пропущенный звонок"


def call_declined() -> str:
    return "Звонок отклонён"


def call_ended(minutes: int) -> str:
    return f"Звонок завершён, длительность {minutes} мин."


def unblock_requested(name: str, apology: str, window_ends_at: str) -> str:
    return (f"{name or 'Участник чата'} просит досрочно снять блокировку и приносит извинения участникам "
            f"чата: «{apology}». Если вы против, сообщите об этом до {window_ends_at}.")


def unblock_objected(name: str) -> str:
    return f"Участник чата возражает против досрочного снятия блокировки с {name or 'участника'}."


def unblocked_early(name: str) -> str:
    return f"Блокировка с {name or 'участника'} снята досрочно: никто из участников чата не возразил."


def _people(count, below: int) -> str:
    return f"меньше {below}" if count is None else str(count)


def weekly_digest(digest: dict) -> str:
    """The director's weekly figures (orgstructure.stats.weekly_digest): counts
    only, small counts of people left out."""
    monday = date.fromisoformat(digest["week"])
    below = digest.get("suppressed_below", 5)
    active = digest.get("active") or {}
    roles = (("teacher", "учителей"), ("student", "учеников"), ("parent", "родителей"))
    lines = [f"Статистика за неделю {monday:%d.%m} – {monday + timedelta(days=6):%d.%m.%Y}",
             f"Активных участников: {_people(active.get('all'), below)} ("
             + ", ".join(f"{name}: {_people(active.get(role), below)}" for role, name in roles) + ")",
             f"Сообщений: {digest.get('messages', 0)}; звонков: {digest.get('calls', 0)}, "
             f"минут в звонках: {digest.get('call_minutes', 0)}",
             f"Новых участников: {_people(digest.get('joins'), below)}; "
             f"заявок на вступление ждут решения: {_people(digest.get('pending_requests'), below)}"]
    units = digest.get("units") or []
    if units:
        lines.append("По классам и группам: " + "; ".join(
            f"{unit['name']} — сообщений {unit['messages']}, звонков {unit['calls']} ({unit['call_minutes']} мин)"
            for unit in units))
    lines.append(f"Числа меньше {below} не показываются, чтобы по ним нельзя было узнать конкретного человека.")
    return "\n".join(lines)


# What a notice that named a person says once that person's data was erased.
NOTICE_ABOUT_ERASED = "Уведомление об участнике, чьи данные удалены."
