/* mtgateway.exe: the command a Windows owner types, from the installer's bin folder.
 *
 * It runs "<install dir>\python\python.exe -m gateway <its own arguments>", the installed
 * daemon's command line, and exits with that process's exit code. The arguments are passed as
 * they were typed (the rest of this program's command line, unparsed), so Python's own parser
 * reads them exactly as it would have from python.exe. The interpreter shares this console:
 * Ctrl-C and Ctrl-Break reach it directly, and this launcher only outlives them (its handler
 * says "handled" and waits for the interpreter's own exit). The interpreter is put in a job
 * that ends it when this launcher ends, so killing the launcher never leaves a daemon behind.
 *
 * Built with mingw-w64 by deploy/windows/build.py; no C runtime beyond kernel32's.
 */
#include <windows.h>

static BOOL WINAPI outlive(DWORD event) {
    (void)event;
    return TRUE; /* the interpreter got the same event; wait for it to end */
}

/* The rest of the command line after the program's own name (CommandLineToArgvW's rule for
 * argument 0: up to the closing quote when it starts with one, else up to a blank). */
static const wchar_t *arguments(const wchar_t *line) {
    if (*line == L'"') {
        ++line;
        while (*line && *line != L'"') ++line;
        if (*line == L'"') ++line;
    } else {
        while (*line && *line != L' ' && *line != L'\t') ++line;
    }
    while (*line == L' ' || *line == L'\t') ++line;
    return line;
}

int main(void) {
    static wchar_t here[32768], command[65536];
    DWORD n = GetModuleFileNameW(NULL, here, 32768);
    if (n == 0 || n >= 32768) return 120;
    /* <install dir>\bin\mtgateway.exe -> <install dir> */
    for (int cut = 0; cut < 2; ++cut) {
        wchar_t *slash = NULL;
        for (wchar_t *p = here; *p; ++p) if (*p == L'\\' || *p == L'/') slash = p;
        if (slash == NULL) return 121;
        *slash = 0;
    }
    const wchar_t *rest = arguments(GetCommandLineW());
    if (lstrlenW(here) + lstrlenW(rest) + 64 >= 65536) return 122;
    lstrcpyW(command, L"\"");
    lstrcatW(command, here);
    lstrcatW(command, L"\\python\\python.exe\" -m gateway");
    if (*rest) {
        lstrcatW(command, L" ");
        lstrcatW(command, rest);
    }
    SetConsoleCtrlHandler(outlive, TRUE);
    HANDLE job = CreateJobObjectW(NULL, NULL);
    if (job != NULL) {
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
        ZeroMemory(&limits, sizeof limits);
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits);
    }
    STARTUPINFOW start;
    PROCESS_INFORMATION child;
    ZeroMemory(&start, sizeof start);
    start.cb = sizeof start;
    if (!CreateProcessW(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL, &start, &child)) {
        static const char message[] = "mtgateway: cannot start the installed Python "
                                      "(python\\python.exe beside bin\\): reinstall MT Gateway\r\n";
        DWORD written;
        WriteFile(GetStdHandle(STD_ERROR_HANDLE), message, sizeof message - 1, &written, NULL);
        return 123;
    }
    if (job != NULL) AssignProcessToJobObject(job, child.hProcess);
    WaitForSingleObject(child.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(child.hProcess, &code);
    CloseHandle(child.hThread);
    CloseHandle(child.hProcess);
    return (int)code;
}
