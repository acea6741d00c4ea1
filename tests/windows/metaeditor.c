/* A stand-in metaeditor64.exe for the Windows stage (tests/windows/installed.py) and the Linux
 * suite's setup under Wine (daemon/tests/e2e/test_setup_wine.py): it takes MetaEditor's command line
 * (/compile:"<source>" /inc:"<MQL5 folder>" /log:"<log>" [/portable], MetaQuotes' MetaEditor
 * help, "Integration with IDE") and answers as MetaEditor does, for the EA's two programs only:
 * a log with a line per message and a summary, and the compiled file beside the source when
 * there is no error. Like MetaEditor, the EA compiles only when the helper was compiled first
 * (the EA carries Indicators\MTGateway\Helper.ex5 as a resource): "resource file ... not
 * found" otherwise. Its exit code, as MetaEditor's, says nothing.
 *
 * The log's form is the first word of form.txt beside the program (none: "english"):
 *   english     UTF-16LE with a byte-order mark, CRLF, "Result: N errors, 0 warnings, ...";
 *   legacy      the same with older builds' summary, "Result: N error(s), 0 warning(s)";
 *   russian     UTF-16LE with its mark, every word in Russian, the summary too;
 *   utf8        English words in UTF-8 without a byte-order mark;
 *   unreadable  Russian words in Windows' Cyrillic code page (1251), no mark: neither UTF-16
 *               nor UTF-8;
 *   hang        never ends (a MetaEditor stuck past setup's time).
 * A second word "fail" makes every compile fail (error 100, no compiled file).
 * Every command line it is started with is appended to calls.txt beside it (UTF-8, as the
 * raw line GetCommandLineW gives), so a test sees exactly what it was given.
 * Built with mingw-w64 (-municode). */
#include <windows.h>
#include <string.h>
#include <wchar.h>

static const wchar_t *option(int argc, wchar_t **argv, const wchar_t *name) {
    size_t n = wcslen(name);
    for (int i = 1; i < argc; ++i)
        if (_wcsnicmp(argv[i], name, n) == 0) return argv[i] + n;
    return NULL;
}

static BOOL exists(const wchar_t *path) {
    DWORD attributes = GetFileAttributesW(path);
    return attributes != INVALID_FILE_ATTRIBUTES && !(attributes & FILE_ATTRIBUTE_DIRECTORY);
}

static void write_bytes(const wchar_t *path, const void *bytes, DWORD size, BOOL append) {
    HANDLE file = CreateFileW(path, append ? FILE_APPEND_DATA : GENERIC_WRITE, 0, NULL,
                              append ? OPEN_ALWAYS : CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE) return;
    DWORD written;
    WriteFile(file, bytes, size, &written, NULL);
    CloseHandle(file);
}

/* text in code page `page` (CP_UTF8, 1251), or UTF-16LE with its byte-order mark (page 0) */
static void write_log(const wchar_t *path, const wchar_t *text, UINT page) {
    static char bytes[65536];
    if (page == 0) {
        bytes[0] = (char)0xff;
        bytes[1] = (char)0xfe;
        DWORD size = (DWORD)(wcslen(text) * sizeof(wchar_t));
        memcpy(bytes + 2, text, size);
        write_bytes(path, bytes, size + 2, FALSE);
        return;
    }
    int size = WideCharToMultiByte(page, 0, text, -1, bytes, sizeof bytes, NULL, NULL);
    write_bytes(path, bytes, size > 0 ? (DWORD)(size - 1) : 0, FALSE);
}

/* beside(name): the path of `name` in this program's own folder */
static void beside(wchar_t *out, const wchar_t *name) {
    GetModuleFileNameW(NULL, out, 4096);
    wchar_t *slash = wcsrchr(out, L'\\');
    lstrcpyW(slash ? slash + 1 : out, name);
}

int wmain(int argc, wchar_t **argv) {
    static wchar_t log[4096], compiled[4096], helper[4096], text[16384], path[4096];
    static char raw[8192], form[64];
    /* what it was started with, before anything else */
    beside(path, L"calls.txt");
    int n = WideCharToMultiByte(CP_UTF8, 0, GetCommandLineW(), -1, raw, sizeof raw - 2, NULL,
                                NULL);
    if (n > 0) {
        raw[n - 1] = '\n';
        write_bytes(path, raw, (DWORD)n, TRUE);
    }
    beside(path, L"form.txt");
    HANDLE file = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    if (file != INVALID_HANDLE_VALUE) {
        DWORD got = 0;
        ReadFile(file, form, sizeof form - 1, &got, NULL);
        form[got] = 0;
        CloseHandle(file);
    }
    BOOL russian = strncmp(form, "russian", 7) == 0 || strncmp(form, "unreadable", 10) == 0;
    BOOL fail = strstr(form, "fail") != NULL;
    UINT page = strncmp(form, "utf8", 4) == 0 ? CP_UTF8
                : strncmp(form, "unreadable", 10) == 0 ? 1251 : 0;
    if (strncmp(form, "hang", 4) == 0) Sleep(INFINITE);

    const wchar_t *source = option(argc, argv, L"/compile:");
    const wchar_t *include = option(argc, argv, L"/inc:");
    const wchar_t *logged = option(argc, argv, L"/log:");
    if (source == NULL) return 1;
    if (logged != NULL && *logged) {
        lstrcpynW(log, logged, 4096);
    } else {
        lstrcpynW(log, source, 4096);
        wchar_t *dot = wcsrchr(log, L'.');
        if (dot) lstrcpyW(dot, L".log");
    }
    const wchar_t *name = wcsrchr(source, L'\\');
    name = name ? name + 1 : source;
    const wchar_t *error = russian ? L"\u043e\u0448\u0438\u0431\u043a\u0430" : L"error";
    int errors = 0;
    swprintf(text, 16384, russian
             ? L"%ls : \u0438\u043d\u0444\u043e\u0440\u043c\u0430\u0446\u0438\u044f: "
               L"\u043a\u043e\u043c\u043f\u0438\u043b\u044f\u0446\u0438\u044f '%ls'\r\n"
             : L"%ls : information: compiling '%ls'\r\n", source, name);
    if (!exists(source)) {
        errors = 1;
        swprintf(text + wcslen(text), 16384 - wcslen(text),
                 L"%ls : %ls 101: '%ls' - %ls\r\n", source, error, name,
                 russian ? L"\u043d\u0435 \u0443\u0434\u0430\u0435\u0442\u0441\u044f "
                           L"\u043e\u0442\u043a\u0440\u044b\u0442\u044c \u0444\u0430\u0439\u043b"
                         : L"cannot open the program file");
    } else if (fail) {
        errors = 1;
        swprintf(text + wcslen(text), 16384 - wcslen(text),
                 L"%ls(1,1) : %ls 100: ';' - %ls\r\n", source, error,
                 russian ? L"\u043e\u0436\u0438\u0434\u0430\u0435\u0442\u0441\u044f ';'"
                         : L"semicolon expected");
    } else if (_wcsicmp(name, L"MTGateway.mq5") == 0) {
        swprintf(helper, 4096, L"%ls\\Indicators\\MTGateway\\Helper.ex5", include ? include : L".");
        if (!exists(helper)) {
            errors = 1;
            swprintf(text + wcslen(text), 16384 - wcslen(text),
                     L"%ls(40,11) : %ls 300: %ls '\\Indicators\\MTGateway\\Helper.ex5' %ls\r\n",
                     source, error,
                     russian ? L"\u0440\u0435\u0441\u0443\u0440\u0441\u043d\u044b\u0439 "
                               L"\u0444\u0430\u0439\u043b" : L"resource file",
                     russian ? L"\u043d\u0435 \u043d\u0430\u0439\u0434\u0435\u043d"
                             : L"not found");
        }
    }
    if (russian) {
        swprintf(text + wcslen(text), 16384 - wcslen(text),
                 L"\u0420\u0435\u0437\u0443\u043b\u044c\u0442\u0430\u0442: %d "
                 L"\u043e\u0448\u0438\u0431\u043e\u043a, 0 "
                 L"\u043f\u0440\u0435\u0434\u0443\u043f\u0440\u0435\u0436\u0434\u0435\u043d\u0438\u0439, "
                 L"5 \u043c\u0441\u0435\u043a\r\n", errors);
    } else if (strncmp(form, "legacy", 6) == 0) {
        swprintf(text + wcslen(text), 16384 - wcslen(text),
                 L"Result: %d error(s), 0 warning(s)\r\n", errors);
    } else {
        swprintf(text + wcslen(text), 16384 - wcslen(text),
                 L"Result: %d errors, 0 warnings, 5 msec elapsed, cpu='X64 Regular'\r\n", errors);
    }
    if (errors == 0) {
        lstrcpynW(compiled, source, 4096);
        wchar_t *dot = wcsrchr(compiled, L'.');
        if (dot) lstrcpyW(dot, _wcsicmp(dot, L".mq4") == 0 ? L".ex4" : L".ex5");
        write_bytes(compiled, "EX5", 3, FALSE);
    }
    write_log(log, text, page);
    return errors ? 0 : 1;
}
