"""What the platform itself says to users in chats: titles of official chats,
their default rules and the notices it posts. Users are Russian-speaking."""

DEFAULT_RULES = [
    "Общаемся вежливо и уважительно, без оскорблений и травли.",
    "Не размещаем рекламу, спам и платные услуги.",
    "Не публикуем личные данные других людей: телефоны, адреса, ссылки на соцсети.",
    "Пишем по делу и не пишем поздно вечером без крайней необходимости.",
]

SCHOOL_CHANNEL = "Объявления школы"
STAFF_CHANNEL = "Объявления для сотрудников"
TEACHERS_CHAT = "Учительская"


def class_students_chat(unit_name: str) -> str:
    return f"{unit_name}: ученики"


def class_parents_chat(unit_name: str) -> str:
    return f"{unit_name}: родители"


def rules_reminder(rules: list[str]) -> str:
    listed = "\n".join(f"{number}. {rule}" for number, rule in enumerate(rules, 1))
    return "Напоминаем правила чата:\n" + listed


def call_started(kind: str) -> str:
    return "Начался видеозвонок" if kind != "meeting" else "Началось собрание"


def call_ended(minutes: int) -> str:
    return f"Звонок завершён, длительность {minutes} мин."
