"""Lookup tables the synthetic generators draw from: names, domains, countries, user agents, files.

Kept apart from the generators so the generators read as the behaviour they model, and so the
tables can grow without touching that logic. Weights are rough shares of real sign-up and
upload traffic for a global SaaS product, not measurements.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "david", "elizabeth",
    "william", "susan", "richard", "jessica", "thomas", "sarah", "daniel", "karen", "matthew", "nancy",
    "anna", "lukas", "sophie", "maximilian", "lea", "paul", "emma", "louis", "chloe", "hugo",
    "giulia", "marco", "lucia", "alejandro", "sofia", "mateo", "valentina", "joao", "ana", "pedro",
    "priya", "rahul", "ananya", "arjun", "wei", "li", "yuki", "haruto", "minjun", "seoyeon",
    "olga", "dmitri", "ivan", "katarzyna", "piotr", "fatima", "omar", "aisha", "chinedu", "ngozi",
    "lars", "ingrid", "sven", "noah", "olivia", "liam", "ava", "ethan", "mia", "lucas",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
    "mueller", "schmidt", "schneider", "fischer", "weber", "martin", "bernard", "dubois", "moreau", "laurent",
    "rossi", "russo", "ferrari", "esposito", "fernandez", "lopez", "gonzalez", "silva", "santos", "oliveira",
    "sharma", "patel", "singh", "kumar", "gupta", "wang", "zhang", "chen", "liu", "tanaka",
    "suzuki", "sato", "kim", "lee", "park", "ivanov", "petrov", "kowalski", "nowak", "okafor",
    "adeyemi", "hassan", "ali", "andersson", "johansson", "nilsen", "jansen", "devries", "murphy", "kelly",
)  # fmt: skip

#: Large webmail providers, weighted.
FREE_EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 45.0), ("yahoo.com", 7.0), ("outlook.com", 8.0), ("hotmail.com", 6.0), ("icloud.com", 6.0),
    ("gmx.de", 2.0), ("web.de", 2.0), ("proton.me", 2.0), ("yandex.ru", 1.5), ("mail.ru", 1.5),
    ("qq.com", 1.5), ("aol.com", 1.0), ("live.com", 1.5), ("zoho.com", 0.5),
)  # fmt: skip

#: Company domains: people signing up with a work address.
COMPANY_DOMAINS: tuple[str, ...] = (
    "acme-logistics.com", "northwind.io", "contoso.com", "fabrikam.de", "globex.co.uk", "initech.com",
    "umbrella-health.org", "stark-industries.com", "wayne-enterprises.com", "hooli.xyz", "piedpiper.net",
    "blueyonder-airlines.com", "tailspin-toys.fr", "adventure-works.com", "litware.in", "proseware.com.br",
    "wingtip-toys.es", "alpineskihouse.ch", "bellows-college.edu", "lamnahealthcare.com", "trey-research.nl",
    "vanarsdel.jp", "woodgrovebank.com", "coho-winery.it", "margies-travel.com.au", "fourthcoffee.se",
)  # fmt: skip

#: Throwaway mailboxes (all on the feature module's disposable list or a subdomain of one).
DISPOSABLE_EMAIL_DOMAINS: tuple[str, ...] = (
    "mailinator.com", "yopmail.com", "guerrillamail.com", "sharklasers.com", "10minutemail.com",
    "tempmail.com", "temp-mail.org", "trashmail.com", "maildrop.cc", "getnada.com", "dispostable.com",
    "throwawaymail.com", "mailnesia.com", "grr.la", "spam4.me", "mytemp.email",
)  # fmt: skip

#: Declared countries of legitimate sign-ups, weighted.
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 28.0), ("GB", 8.0), ("DE", 8.0), ("IN", 8.0), ("FR", 6.0), ("BR", 5.0), ("CA", 4.0),
    ("ES", 3.0), ("IT", 3.0), ("NL", 3.0), ("AU", 3.0), ("JP", 3.0), ("MX", 2.0), ("PL", 2.0),
    ("SE", 1.5), ("KR", 1.5), ("NG", 1.5), ("PH", 1.5), ("ID", 1.5), ("ZA", 1.0), ("TR", 1.0),
    ("CH", 1.0), ("IE", 1.0), ("SG", 1.0), ("AR", 1.0), ("CO", 1.0), ("VN", 1.0), ("EG", 0.5),
)  # fmt: skip

#: Where fraud traffic actually comes from (hosting providers, proxy exits), weighted.
FRAUD_IP_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("RU", 10.0), ("VN", 8.0), ("NG", 8.0), ("CN", 7.0), ("US", 10.0), ("NL", 6.0), ("DE", 4.0),
    ("UA", 4.0), ("BR", 4.0), ("IN", 5.0), ("ID", 4.0), ("PK", 3.0), ("RO", 3.0), ("BD", 3.0),
)  # fmt: skip

DESKTOP_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
)
MOBILE_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; M2101K20AG) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.6668.100 Mobile Safari/537.36",
    "ExampleApp/5.12.1 (iPhone; iOS 18.1; Scale/3.00)",
    "ExampleApp/5.12.0 (Android 14; Pixel 7a)",
)
TABLET_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
)
AUTOMATION_AGENTS: tuple[str, ...] = (
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; SignupBot/1.0; +http://example.invalid/bot)",
    "aiohttp/3.10.10",
)
ODD_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
    "-",
    "Dalvik/2.1.0 (Linux; U; Android 9; Redmi Note 7 MIUI/V11.0.3.0)",
)

#: Document kinds: (extension, declared MIME type, weight, median size in bytes).
DOCUMENT_KINDS: tuple[tuple[str, str, float, int], ...] = (
    ("pdf", "application/pdf", 45.0, 0),  # PDFs are sized by page count
    ("jpg", "image/jpeg", 16.0, 2_400_000),
    ("png", "image/png", 8.0, 450_000),
    ("heic", "image/heic", 3.0, 1_800_000),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 12.0, 85_000),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 6.0, 60_000),
    ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", 2.0, 3_200_000),
    ("csv", "text/csv", 3.0, 25_000),
    ("txt", "text/plain", 2.0, 6_000),
    ("zip", "application/zip", 1.5, 5_000_000),
    ("tiff", "image/tiff", 1.5, 4_000_000),
)

#: Stems of document file names, by extension; ``{n}``, ``{d}``, ``{y}``, ``{m}`` are filled in.
FILE_STEMS: dict[str, tuple[str, ...]] = {
    "pdf": (
        "Invoice_{n}", "invoice-{n}", "scan_{d}", "Scan{n}", "contract_signed", "Contract - {m} {y}",
        "bank_statement_{m}_{y}", "payslip-{m}-{y}", "CV_{name}", "{name}_resume", "report Q{q} {y}",
        "Rechnung_{n}", "facture-{n}", "lease agreement", "tax_return_{y}", "passport", "utility_bill_{m}",
        "résumé {name}", "Angebot_{n}", "presentation_final_v{v}",
    ),
    "jpg": ("IMG_{n}", "PXL_{d}_{n}", "photo", "passport_scan", "ID_front", "ID_back", "receipt_{d}", "DSC{n}"),
    "png": ("Screenshot {d} at {t}", "Screenshot_{d}-{n}", "image", "signature", "diagram_v{v}"),
    "heic": ("IMG_{n}",),
    "docx": ("cover letter", "Proposal_v{v}", "minutes_{d}", "{name} references", "draft_{n}"),
    "xlsx": ("budget_{y}", "timesheet-{m}", "inventory_{d}", "expenses Q{q}"),
    "pptx": ("pitch_deck_v{v}", "Quarterly Review Q{q} {y}"),
    "csv": ("export_{d}", "transactions_{m}_{y}", "contacts"),
    "txt": ("notes", "readme", "log_{d}"),
    "zip": ("documents", "archive_{d}", "photos_{m}"),
    "tiff": ("fax_{n}", "scan_{d}"),
}  # fmt: skip

#: What the magic bytes of a disguised executable say.
EXECUTABLE_MIME_TYPES: tuple[str, ...] = (
    "application/x-dosexec",
    "application/x-msdownload",
    "application/vnd.microsoft.portable-executable",
    "application/x-msi",
    "application/java-archive",
)
EXECUTABLE_EXTENSIONS: tuple[str, ...] = ("exe", "scr", "js", "bat", "msi", "jar", "vbs", "cmd", "ps1")
#: Files declared as documents whose bytes are something else that is not a program.
SPOOF_DETECTED: tuple[str, ...] = ("text/html", "application/zip", "application/javascript", "application/x-sh")

CORRUPT_REASONS: tuple[str, ...] = (
    "pdf_xref_table_broken",
    "pdf_header_missing",
    "zip_central_directory_missing",
    "image_header_invalid",
    "ooxml_part_missing",
)
TRUNCATED_REASONS: tuple[str, ...] = (
    "client_disconnected",
    "content_length_mismatch",
    "upload_timeout",
    "multipart_boundary_missing",
)

MONTHS: tuple[str, ...] = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
