/* ProcessPrng, the one function of Windows' bcryptprimitives.dll that Rust's standard library
 * (1.78 and later) asks for its random bytes, which Wine 8 does not provide. Built with
 * mingw-w64 (tests/windows/wine.py) and put beside the Windows python.exe that the stage runs
 * under Wine, it answers from advapi32's RtlGenRandom (exported as SystemFunction036), Wine's
 * own source of random bytes. Windows itself has the real DLL: this file is never used there.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
