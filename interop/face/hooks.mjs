// hooks.mjs: Node module resolver hooks for the face reference check.
//
// face-api's no-bundle ES module imports three tfjs entry points by their
// bundler paths: the WebAssembly and WebGL backends (not used here: the check
// runs tfjs's pure-JS cpu backend, so they resolve to empty modules) and
// @tensorflow/tfjs/dist/index.js (extension-less ES sources meant for
// bundlers, so it resolves to the package's Node entry point instead).
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@tensorflow/tfjs-backend-wasm') || specifier.startsWith('@tensorflow/tfjs-backend-webgl')) {
    return { url: 'data:text/javascript,export {}', shortCircuit: true };
  }
  if (specifier === '@tensorflow/tfjs/dist/index.js') {
    return next('@tensorflow/tfjs', context);
  }
  return next(specifier, context);
}
