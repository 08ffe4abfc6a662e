// Breaks "query never writes" (see tests/layering/CMakeLists.txt).
#include "storage/engine.h"
void Oops(Engine* engine, Records* records) { engine->Append("default", records); }
