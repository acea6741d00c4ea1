/* A stand-in metaeditor64.exe for the Windows stage (tests/windows/installed.py): it takes
 * MetaEditor's command line (/compile:"<source>" /inc:"<MQL5 folder>" /log:"<log>", MetaQuotes'
 * MetaEditor help, "Integration with IDE") and answers as MetaEditor does, for the EA's two
 * programs only: a log in UTF-16LE with a byte-order mark and CRLF, a line per message and a
 * last line "Result: N errors, 0 warnings, 5 msec elapsed", and the compiled file beside the
 * source when there is no error. Like MetaEditor, the EA compiles only when the helper was
 * compiled first (the EA carries Indicators\MTGateway\Helper.ex5 as a resource):
 * "resource file ... not found" otherwise. Its exit code, as MetaEditor's, says nothing.
 * Built with mingw-w64 (-municode) by the stage. */
#include <windows.h>
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

static void write_log(const wchar_t *path, const wchar_t *text) {
    HANDLE file = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                              FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE) return;
    DWORD written;
    WriteFile(file, "\xff\xfe", 2, &written, NULL);
    WriteFile(file, text, (DWORD)(wcslen(text) * sizeof(wchar_t)), &written, NULL);
    CloseHandle(file);
}

int wmain(int argc, wchar_t **argv) {
    static wchar_t log[4096], compiled[4096], helper[4096], text[16384];
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
    int errors = 0;
    swprintf(text, 16384, L"%ls : information: compiling '%ls'\r\n", source, name);
    if (!exists(source)) {
        errors = 1;
        swprintf(text + wcslen(text), 16384 - wcslen(text),
                 L"%ls : error 101: '%ls' - cannot open the program file\r\n", source, name);
    } else if (_wcsicmp(name, L"MTGateway.mq5") == 0) {
        swprintf(helper, 4096, L"%ls\\Indicators\\MTGateway\\Helper.ex5", include ? include : L".");
        if (!exists(helper)) {
            errors = 1;
            swprintf(text + wcslen(text), 16384 - wcslen(text),
                     L"%ls(40,11) : error 300: resource file '\\Indicators\\MTGateway\\Helper.ex5'"
                     L" not found\r\n", source);
        }
    }
    swprintf(text + wcslen(text), 16384 - wcslen(text),
             L"Result: %d errors, 0 warnings, 5 msec elapsed, cpu='X64 Regular'\r\n", errors);
    if (errors == 0) {
        lstrcpynW(compiled, source, 4096);
        wchar_t *dot = wcsrchr(compiled, L'.');
        if (dot) lstrcpyW(dot, _wcsicmp(dot, L".mq4") == 0 ? L".ex4" : L".ex5");
        HANDLE out = CreateFileW(compiled, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                                 FILE_ATTRIBUTE_NORMAL, NULL);
        if (out != INVALID_HANDLE_VALUE) {
            DWORD written;
            WriteFile(out, "EX5", 3, &written, NULL);
            CloseHandle(out);
        }
    }
    write_log(log, text);
    return errors ? 0 : 1;
}
