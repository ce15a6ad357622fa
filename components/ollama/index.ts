export { OLLAMA_DEFAULTS, ollamaRules, type OllamaArgs, type OllamaGpu } from "./args";
export { modelPullJobName, OLLAMA_PORT } from "./builders";
export { Ollama, type OllamaIdentities } from "./ollama";
