// C wrappers around libpng and libjpeg: their error handling is setjmp/longjmp,
// which Swift cannot cross, so every call into those libraries lives here.
#pragma once
