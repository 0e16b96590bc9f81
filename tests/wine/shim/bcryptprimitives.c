/* ProcessPrng, the one function Rust's standard library imports from bcryptprimitives.dll (its
 * source of random bytes since Rust 1.78). Windows 10 and later have it; Wine 8.0 has no
 * bcryptprimitives.dll at all, so an exe built by current Rust does not start. This stands in for
 * the missing system DLL only, on top of Wine's own system random number generator. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
