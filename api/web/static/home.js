// The start page: the choices for the signed-in role (or sign-in and sign-up).
import { registerServiceWorker, start } from "./common.js";

registerServiceWorker();
start();
